-- Time in force, self-trade prevention and client references (issue 20).
--
-- Orders keep the instructions they were placed with: `time_in_force` (an IOC or FOK order never
-- rests, which a CHECK holds), `self_trade`, and the client's reference `client_ref`, unique per
-- account. The unique index is the final guard against two orders with one reference: the batch
-- decision answers a repeated reference from what it read under the book locks, but two batches
-- on different books (or in different server processes) can each read "not used yet"; the second
-- INSERT then waits for the first to commit and fails, and its batch is decided again.
--
-- New columns with constant defaults: existing rows are the specification's orders (GTC, self-
-- trades settle, no reference) and no table rewrite is needed.
ALTER TABLE orders
  ADD COLUMN time_in_force text NOT NULL DEFAULT 'GTC'
    CHECK (time_in_force IN ('GTC', 'IOC', 'FOK')),
  ADD COLUMN self_trade text NOT NULL DEFAULT 'none'
    CHECK (self_trade IN ('none', 'cancel-newest', 'cancel-oldest')),
  ADD COLUMN client_ref text CHECK (client_ref ~ '^[A-Za-z0-9._:-]{1,64}$'),
  -- `<= 0` rather than `= 0` (the same, with open_shares >= 0): tests find the older CHECK
  -- `canceled_at IS NULL OR open_shares = 0` by its text.
  ADD CONSTRAINT orders_immediate_never_rests CHECK (time_in_force = 'GTC' OR open_shares <= 0);

CREATE UNIQUE INDEX orders_client_ref ON orders (account_id, client_ref)
  WHERE client_ref IS NOT NULL;

-- The function of migrations/007, with the new orders' canceled shares (an IOC's rest, a
-- self-trade cancel of an order placed earlier in the batch) and instructions. Its parameters
-- change, so the old signature is dropped rather than left as an unused overload.
DROP FUNCTION exchange_apply_batch(
  text[], text[], text[], numeric[], text[], text[], numeric[], numeric[], numeric[],
  bigint[], numeric[], numeric[], bigint[], bigint[], numeric[], numeric[],
  text[], numeric[], text[], text[], numeric[], text[], text[], numeric[]);

CREATE FUNCTION exchange_apply_batch(
  p_syms text[],              -- the books of the batch, all locked by the caller
  p_lock_ids text[],          -- every account whose balance or position changes, or was relied on
  p_check_ids text[], p_check_balances numeric[],
  p_new_syms text[], p_new_accounts text[], p_new_amounts numeric[], p_new_limits numeric[],
  p_new_open numeric[], p_new_canceled numeric[], p_new_tifs text[], p_new_stps text[],
  p_new_refs text[],          -- '' for an order without a reference
  p_changed_ids bigint[], p_changed_open numeric[], p_changed_canceled numeric[],
  p_exec_buys bigint[], p_exec_sells bigint[], p_exec_shares numeric[], p_exec_prices numeric[],
  p_cash_ids text[], p_cash_deltas numeric[],
  p_credit_ids text[], p_credit_syms text[], p_credit_deltas numeric[],
  p_debit_ids text[], p_debit_syms text[], p_debit_deltas numeric[]
) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := floor(extract(epoch FROM now()))::bigint;
  v_ids bigint[] := '{}';
  v_rows bigint;
  v_stale text;
BEGIN
  -- Lock level 3: every account the batch touches, in one statement, ascending by id.
  IF cardinality(p_lock_ids) > 0 THEN
    PERFORM 1 FROM accounts WHERE id = ANY (p_lock_ids) ORDER BY id COLLATE "C" FOR UPDATE;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows <> cardinality(p_lock_ids) THEN
      RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'exchange_apply_batch: an account of the batch does not exist';
    END IF;
  END IF;

  IF cardinality(p_check_ids) > 0 THEN
    SELECT string_agg(a.id, ',') INTO v_stale
    FROM accounts AS a JOIN unnest(p_check_ids, p_check_balances) AS c(id, balance) ON a.id = c.id
    WHERE a.balance <> c.balance;
    IF v_stale IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'EX002', MESSAGE = 'stale_balance ' || v_stale;
    END IF;
  END IF;

  -- Orders: the new ones with their ids, in arrival order; then the stored ones that changed
  -- (order rows of a book are written only under its symbol lock, which the caller holds; every
  -- row written here is checked to belong to one of the batch's books).
  IF cardinality(p_new_accounts) > 0 THEN
    IF NOT p_new_syms <@ p_syms THEN
      RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'exchange_apply_batch: an order outside the batch''s books';
    END IF;
    v_ids := ARRAY(SELECT nextval('order_ids') FROM generate_series(1, cardinality(p_new_accounts)));
    -- A reference another transaction stored since round trip 1 read the references fails this
    -- INSERT on orders_client_ref (23505): the batch is decided again and sees it.
    INSERT INTO orders (id, account_id, sym, amount, limit_price, open_shares, canceled_shares,
                        canceled_at, time_in_force, self_trade, client_ref, created_at)
    SELECT v_ids[t.n], t.account_id, t.sym, t.amount, t.limit_price, t.open_shares, t.canceled,
           CASE WHEN t.canceled > 0 THEN v_now END, t.tif, t.stp, NULLIF(t.ref, ''), v_now
    FROM unnest(p_new_syms, p_new_accounts, p_new_amounts, p_new_limits, p_new_open,
                p_new_canceled, p_new_tifs, p_new_stps, p_new_refs)
         WITH ORDINALITY AS t(sym, account_id, amount, limit_price, open_shares, canceled, tif, stp,
                              ref, n)
    ORDER BY t.n;
  END IF;

  IF cardinality(p_changed_ids) > 0 THEN
    UPDATE orders AS o
    SET open_shares = c.open_shares,
        canceled_shares = o.canceled_shares + c.canceled,
        canceled_at = CASE WHEN c.canceled > 0 THEN v_now ELSE o.canceled_at END
    FROM unnest(p_changed_ids, p_changed_open, p_changed_canceled) AS c(id, open_shares, canceled)
    WHERE o.id = c.id AND o.sym = ANY (p_syms);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows <> cardinality(p_changed_ids) THEN
      RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'exchange_apply_batch: a changed order is missing';
    END IF;
  END IF;

  -- Balances: one row per account, net of reservations, refunds and proceeds.
  IF cardinality(p_cash_ids) > 0 THEN
    UPDATE accounts AS a SET balance = a.balance + d.delta
    FROM unnest(p_cash_ids, p_cash_deltas) AS d(id, delta)
    WHERE a.id = d.id;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows <> cardinality(p_cash_ids) THEN
      RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'exchange_apply_batch: balance update missed an account';
    END IF;
  END IF;

  -- Lock level 4, positions: credits may create the row (a first purchase); debits only touch
  -- existing rows (a CHECK on a would-be-inserted negative row fails before ON CONFLICT).
  IF cardinality(p_credit_ids) > 0 THEN
    IF NOT p_credit_syms <@ p_syms THEN
      RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'exchange_apply_batch: a position outside the batch''s books';
    END IF;
    INSERT INTO positions (account_id, sym, shares)
    SELECT d.id, d.sym, d.delta
    FROM unnest(p_credit_ids, p_credit_syms, p_credit_deltas) AS d(id, sym, delta)
    ORDER BY d.id COLLATE "C", d.sym COLLATE "C"
    ON CONFLICT (account_id, sym) DO UPDATE SET shares = positions.shares + excluded.shares;
  END IF;

  IF cardinality(p_debit_ids) > 0 THEN
    UPDATE positions AS p SET shares = p.shares + d.delta
    FROM unnest(p_debit_ids, p_debit_syms, p_debit_deltas) AS d(id, sym, delta)
    WHERE p.account_id = d.id AND p.sym = d.sym AND p.sym = ANY (p_syms);
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    IF v_rows <> cardinality(p_debit_ids) THEN
      RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'exchange_apply_batch: position debit missed a row';
    END IF;
  END IF;

  -- Executions in decision order, so that their ids (and a query's "oldest first") follow it.
  -- Each names orders of this batch: a stored order it changed (checked above to exist, in the
  -- batch's books) or one of its new orders (-n, n at most the orders drawn). One set-based
  -- check instead of the foreign keys' two lookups per row; EXCEPT is a hashed or sorted set
  -- operation whatever the arrays' estimated sizes.
  IF cardinality(p_exec_buys) > 0 THEN
    IF EXISTS (
      SELECT r.id FROM unnest(p_exec_buys || p_exec_sells) AS r(id)
      WHERE r.id >= 0 OR -r.id > cardinality(v_ids)
      EXCEPT
      SELECT c.id FROM unnest(p_changed_ids) AS c(id)
    ) THEN
      RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'exchange_apply_batch: an execution names an order outside the batch';
    END IF;
    INSERT INTO executions (buy_order_id, sell_order_id, shares, price, executed_at)
    SELECT CASE WHEN x.buy < 0 THEN v_ids[-x.buy] ELSE x.buy END,
           CASE WHEN x.sell < 0 THEN v_ids[-x.sell] ELSE x.sell END,
           x.shares, x.price, v_now
    FROM unnest(p_exec_buys, p_exec_sells, p_exec_shares, p_exec_prices)
         WITH ORDINALITY AS x(buy, sell, shares, price, n)
    ORDER BY x.n;
  END IF;

  RETURN v_ids;
END
$$;
