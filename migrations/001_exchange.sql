-- The exchange's state. Money and shares are NUMERIC (exact decimals, unbounded scale: a
-- product like amount x limit is stored exactly). CHECK constraints make a negative balance,
-- position or open amount impossible even if the application were wrong.

CREATE TABLE accounts (
  id          text PRIMARY KEY CHECK (id ~ '^[0-9]+$'),
  balance     numeric NOT NULL CHECK (balance >= 0),
  -- Cash deposited when the account was created: the audit's "cash in" side.
  deposited   numeric NOT NULL CHECK (deposited >= 0),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE symbols (
  sym         text PRIMARY KEY CHECK (sym ~ '^[A-Za-z0-9]+$'),
  -- Every share ever created by <create><symbol>: the audit's "shares in" side.
  minted      numeric NOT NULL DEFAULT 0 CHECK (minted >= 0)
);

CREATE TABLE positions (
  account_id  text NOT NULL REFERENCES accounts (id),
  sym         text NOT NULL REFERENCES symbols (sym),
  shares      numeric NOT NULL CHECK (shares >= 0),
  PRIMARY KEY (account_id, sym)
);

-- Transaction ids: assigned before the order row is written, so that one round trip can insert
-- the order and its executions together. Never reused (sequences do not roll back).
CREATE SEQUENCE order_ids AS bigint;

CREATE TABLE orders (
  id              bigint PRIMARY KEY DEFAULT nextval('order_ids'),
  account_id      text NOT NULL REFERENCES accounts (id),
  sym             text NOT NULL REFERENCES symbols (sym),
  -- Signed as requested: > 0 buys, < 0 sells.
  amount          numeric NOT NULL CHECK (amount <> 0),
  limit_price     numeric NOT NULL CHECK (limit_price > 0),
  -- The unfilled, uncanceled part, always positive or zero (for sells too).
  open_shares     numeric NOT NULL CHECK (open_shares >= 0),
  canceled_shares numeric NOT NULL DEFAULT 0 CHECK (canceled_shares >= 0),
  canceled_at     bigint,
  created_at      bigint NOT NULL,
  CHECK (open_shares + canceled_shares <= abs(amount)),
  -- Only an order with something open can be canceled, so a canceled order has canceled shares.
  CHECK ((canceled_at IS NULL) = (canceled_shares = 0)),
  CHECK (canceled_at IS NULL OR open_shares = 0)
);
ALTER SEQUENCE order_ids OWNED BY orders.id;

-- The two sides of each book, in matching order: best price first, then oldest (lowest id).
CREATE INDEX orders_open_buys ON orders (sym, limit_price DESC, id)
  WHERE amount > 0 AND open_shares > 0;
CREATE INDEX orders_open_sells ON orders (sym, limit_price, id)
  WHERE amount < 0 AND open_shares > 0;

CREATE TABLE executions (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  buy_order_id   bigint NOT NULL REFERENCES orders (id),
  sell_order_id  bigint NOT NULL REFERENCES orders (id),
  shares         numeric NOT NULL CHECK (shares > 0),
  price          numeric NOT NULL CHECK (price > 0),
  executed_at    bigint NOT NULL
);
CREATE INDEX executions_by_buy ON executions (buy_order_id, id);
CREATE INDEX executions_by_sell ON executions (sell_order_id, id);
