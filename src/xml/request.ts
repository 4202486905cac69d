/**
 * The typed shape of a request document, before any value is validated. Attribute values are
 * kept verbatim so that error answers can echo exactly what the client sent.
 */

/** Attributes in document order. */
export type Attributes = ReadonlyMap<string, string>;

/** An element this server does not know, answered with an `<error>` in its position. */
export interface UnknownElement {
  readonly kind: "unknown";
  readonly name: string;
  readonly attributes: Attributes;
}

/** `<account id balance/>` inside `<create>`. */
export interface CreateAccount {
  readonly kind: "account";
  readonly attributes: Attributes;
}

/** `<account id>NUM</account>` inside `<symbol>`. */
export interface SymbolAccount {
  readonly kind: "account";
  readonly attributes: Attributes;
  readonly text: string;
}

/** `<symbol sym>` inside `<create>`, with its children in document order. */
export interface CreateSymbol {
  readonly kind: "symbol";
  readonly attributes: Attributes;
  readonly children: ReadonlyArray<SymbolAccount | UnknownElement>;
}

export type CreateChild = CreateAccount | CreateSymbol | UnknownElement;

/** `<order>`, `<query>` or `<cancel>` inside `<transactions>`. */
export interface TransactionChild {
  readonly kind: "order" | "query" | "cancel";
  readonly attributes: Attributes;
}

export type Request =
  | { readonly kind: "create"; readonly children: readonly CreateChild[] }
  | {
    readonly kind: "transactions";
    readonly attributes: Attributes;
    readonly children: ReadonlyArray<TransactionChild | UnknownElement>;
  };
