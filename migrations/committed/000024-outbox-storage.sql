--! Previous: sha1:d94a89b473b71a85f6f4af2eee6dedb2e73d9fde
--! Hash: sha1:03ce4fcfc8d4d6d447b23d59c2b7c0422458a0cc
--! Message: outbox storage

-- Storage settings of the outbox, which is written all day and purged in batches.
--
-- fillfactor 80: each row is updated a few times after it is created (the claim's lease, the
-- outcome). The lease update changes no indexed column, so with room left on the page it is a HOT
-- update: no new index entries and no page of its own. Applies to pages written from now on.
-- autovacuum: the defaults wait until 20% of the table is dead; after each purge and with a busy
-- claim loop that is millions of dead rows at AWX scale. 2% (plus 1,000 rows) keeps the table and
-- its partial pending index small, and analyze keeps the planner's view of the backlog fresh.
--
-- Locks: ALTER TABLE … SET (storage parameters) takes SHARE UPDATE EXCLUSIVE on
-- notifier.notifications: reads, host INSERTs and the service's UPDATEs go on; only VACUUM and
-- other DDL on the table wait.

alter table notifier.notifications set (
  fillfactor = 80,
  autovacuum_vacuum_scale_factor = 0.02,
  autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0.05,
  autovacuum_analyze_scale_factor = 0.02,
  autovacuum_analyze_threshold = 1000
);
