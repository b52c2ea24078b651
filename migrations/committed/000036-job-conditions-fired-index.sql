--! Previous: sha1:bb1874db5ee4888f73d0fa76fe60500dc475d356
--! Hash: sha1:51504109c56ce78d07303484d0b58fb5570cc1ec
--! Message: job_conditions fired index, for the purge

--! no-transaction
-- The purge's index on the protocol's bookkeeping (migration 000037): rows whose final
-- notification has fired, by when it fired, so each batch reads the oldest entries instead of
-- scanning notifier.job_conditions. A row enters it once, when notifier.decide() fires the final
-- trigger (that update already changes columns of job_conditions_awaiting_wrapup_idx's
-- predicate, so it was not a HOT update before); the first record of a job (started, or A while
-- the wrapup is awaited) pays nothing for it.
--
-- Locks: CREATE INDEX CONCURRENTLY takes SHARE UPDATE EXCLUSIVE on notifier.job_conditions: host
-- writes (their triggers insert and update job_conditions) and the sweep go on while it builds. It
-- waits for transactions older than itself; one that outlasts NOTIFIER_LOCK_TIMEOUT makes it fail
-- and leave an invalid index, which the next `migrate` drops before building it again. No host
-- table is touched.
create index concurrently job_conditions_fired_idx
  on notifier.job_conditions (final_condition_at) where final_condition_at is not null;
