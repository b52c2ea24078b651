--! Previous: sha1:3ed5024413d08f90127186e8aca874f1497b7ded
--! Hash: sha1:425b9638674423a0260c5e6898b1b4aaee1957cc
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
