-- exchange_apply_order: the second round trip of placing an order, as one statement.
--
-- The matching decision is made by the server (src/exchange/matching.ts) from the book it read
-- under the book lock; this function only applies the resulting settlement (the net changes
-- computed by src/exchange/settlement.ts). It takes the remaining locks in the global order
-- (accounts ascending by id in the "C" collation, then the seller's position), checks funds or
-- shares, and writes the order, balances, positions, resting fills and executions. Running the
-- statements here instead of sending each one saves driver work and protocol messages per
-- order; PL/pgSQL caches their plans per connection.
--
-- Refusals raise SQLSTATE EX001 with 'insufficient_funds <balance>' or
-- 'insufficient_shares <position>'; a mismatch between the settlement and the rows written
-- raises XX000 (an internal error: the transaction is rolled back).
CREATE FUNCTION exchange_apply_order(
  p_order_id bigint,
  p_account_id text,
  p_sym text,
  p_amount numeric,          -- signed as requested: > 0 buys, < 0 sells
  p_limit numeric,
  p_open numeric,            -- what remains open after matching
  p_reserved numeric,        -- cash (buy: amount x limit) or shares (sell) the order needs
  p_locked_ids text[],       -- every account that trades
  p_cash_ids text[], p_cash_deltas numeric[],
  p_credit_ids text[], p_credit_deltas numeric[],
  p_debit_ids text[], p_debit_deltas numeric[],
  p_fill_ids bigint[], p_fill_shares numeric[],
  p_exec_buy_ids bigint[], p_exec_sell_ids bigint[], p_exec_shares numeric[], p_exec_prices numeric[]
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := floor(extract(epoch FROM now()))::bigint;
  v_available numeric;
  v_rows bigint;
BEGIN
  -- Lock level 3: every account that trades, in one statement, ascending by id.
  PERFORM 1 FROM accounts WHERE id = ANY (p_locked_ids) ORDER BY id COLLATE "C" FOR UPDATE;
  GET DIAGNOSTICS v_rows = ROW_COUNT;
  IF v_rows <> cardinality(p_locked_ids) THEN
    RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'exchange_apply_order: an account that trades does not exist';
  END IF;

  IF p_amount > 0 THEN
    SELECT balance INTO v_available FROM accounts WHERE id = p_account_id;
    IF v_available < p_reserved THEN
      RAISE EXCEPTION USING ERRCODE = 'EX001', MESSAGE = 'insufficient_funds ' || v_available;
    END IF;
  ELSE
    -- Lock level 4: the seller's position.
    SELECT shares INTO v_available FROM positions
    WHERE account_id = p_account_id AND sym = p_sym FOR UPDATE;
    IF coalesce(v_available, 0) < p_reserved THEN
      RAISE EXCEPTION USING ERRCODE = 'EX001', MESSAGE = 'insufficient_shares ' || coalesce(v_available, 0);
    END IF;
  END IF;

  INSERT INTO orders (id, account_id, sym, amount, limit_price, open_shares, created_at)
  VALUES (p_order_id, p_account_id, p_sym, p_amount, p_limit, p_open, v_now);

  -- Balances: one row per account, net of reservation, refunds and proceeds.
  -- (Each write below is skipped when it has nothing to do: even an empty UPDATE costs.)
  IF cardinality(p_cash_ids) > 0 THEN
  UPDATE accounts AS a SET balance = a.balance + d.delta
  FROM unnest(p_cash_ids, p_cash_deltas) AS d(id, delta)
  WHERE a.id = d.id;
  GET DIAGNOSTICS v_rows = ROW_COUNT;
  IF v_rows <> cardinality(p_cash_ids) THEN
    RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'exchange_apply_order: balance update missed an account';
  END IF;
  END IF;

  -- Positions: credits may create the row (a first purchase); debits only touch existing rows,
  -- because a CHECK on a would-be-inserted negative row fails before ON CONFLICT is considered.
  IF cardinality(p_credit_ids) > 0 THEN
  INSERT INTO positions (account_id, sym, shares)
  SELECT d.id, p_sym, d.delta FROM unnest(p_credit_ids, p_credit_deltas) AS d(id, delta)
  ORDER BY d.id COLLATE "C"
  ON CONFLICT (account_id, sym) DO UPDATE SET shares = positions.shares + excluded.shares;
  END IF;

  IF cardinality(p_debit_ids) > 0 THEN
  UPDATE positions AS p SET shares = p.shares + d.delta
  FROM unnest(p_debit_ids, p_debit_deltas) AS d(id, delta)
  WHERE p.account_id = d.id AND p.sym = p_sym;
  GET DIAGNOSTICS v_rows = ROW_COUNT;
  IF v_rows <> cardinality(p_debit_ids) THEN
    RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'exchange_apply_order: position debit missed a row';
  END IF;
  END IF;

  -- Resting orders: subtract what each one filled (they are locked since round trip 1).
  IF cardinality(p_fill_ids) > 0 THEN
  UPDATE orders AS o SET open_shares = o.open_shares - f.shares
  FROM unnest(p_fill_ids, p_fill_shares) AS f(id, shares)
  WHERE o.id = f.id;
  GET DIAGNOSTICS v_rows = ROW_COUNT;
  IF v_rows <> cardinality(p_fill_ids) THEN
    RAISE EXCEPTION USING ERRCODE = 'XX000', MESSAGE = 'exchange_apply_order: a filled order is missing';
  END IF;

  -- Executions in fill order, so that their ids (and a query's "oldest first") follow it.
  INSERT INTO executions (buy_order_id, sell_order_id, shares, price, executed_at)
  SELECT x.buy, x.sell, x.shares, x.price, v_now
  FROM unnest(p_exec_buy_ids, p_exec_sell_ids, p_exec_shares, p_exec_prices)
       WITH ORDINALITY AS x(buy, sell, shares, price, n)
  ORDER BY x.n;
  END IF;
END
$$;
