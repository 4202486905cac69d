-- exchange_require(condition, reason): raises SQLSTATE EX001 with `reason` as its message when
-- the condition is not true. Lets a check travel in the same round trip as the writes that
-- depend on it and the COMMIT behind them: if the check fails, the transaction is aborted,
-- every later statement fails, and PostgreSQL turns the COMMIT into a ROLLBACK.
CREATE FUNCTION exchange_require(condition boolean, reason text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  IF condition IS NOT TRUE THEN
    RAISE EXCEPTION USING ERRCODE = 'EX001', MESSAGE = reason;
  END IF;
  RETURN true;
END
$$;
