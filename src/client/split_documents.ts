/**
 * Splits a stream of XML documents written one after another (`<create>...</create>
 * <transactions>...</transactions>`) into the documents, for `deno task client`.
 *
 * It only tracks element depth: tags, with comments, processing instructions, CDATA and
 * DOCTYPE skipped whole and quoted attribute values respected. A document ends where its root
 * element closes. Whether each document is well-formed is left to the server, which says so.
 */

/** The documents of `text`, each trimmed; throws a SyntaxError for an unfinished one. */
export function splitDocuments(text: string): string[] {
  const documents: string[] = [];
  let depth = 0;
  let documentStart = -1;
  let i = 0;
  while (i < text.length) {
    const lt = text.indexOf("<", i);
    if (lt < 0) {
      break;
    }
    if (documentStart < 0) {
      documentStart = lt;
    }
    const skipTo = (terminator: string) => {
      const found = text.indexOf(terminator, lt);
      if (found < 0) {
        throw new SyntaxError(`Unterminated markup at offset ${lt}`);
      }
      return found + terminator.length;
    };
    if (text.startsWith("<!--", lt)) {
      i = skipTo("-->");
      continue;
    }
    if (text.startsWith("<![CDATA[", lt)) {
      i = skipTo("]]>");
      continue;
    }
    if (text.startsWith("<?", lt) || text.startsWith("<!", lt)) {
      i = skipTo(">");
      continue;
    }
    // An element tag: find its end outside quoted attribute values.
    let j = lt + 1;
    let quote: string | undefined;
    for (; j < text.length; j++) {
      const c = text[j]!;
      if (quote !== undefined) {
        if (c === quote) {
          quote = undefined;
        }
      } else if (c === '"' || c === "'") {
        quote = c;
      } else if (c === ">") {
        break;
      }
    }
    if (j >= text.length) {
      throw new SyntaxError(`Unterminated tag at offset ${lt}`);
    }
    const closing = text[lt + 1] === "/";
    const selfClosing = text[j - 1] === "/";
    if (closing) {
      depth--;
    } else if (!selfClosing) {
      depth++;
    }
    i = j + 1;
    if (depth <= 0) {
      documents.push(text.slice(documentStart, i).trim());
      documentStart = -1;
      depth = 0;
    }
  }
  if (documentStart >= 0 && text.slice(documentStart).trim() !== "") {
    throw new SyntaxError("The input ends inside a document");
  }
  return documents;
}
