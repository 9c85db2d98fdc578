-- Bounds the rest of the diagnosis batch; LOCAL ends with the batch's implicit transaction.
SET LOCAL statement_timeout = '5s'
