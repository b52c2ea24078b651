--! Previous: sha1:e19ae37ee5eef8dde04e480aa5a8908467104288
--! Hash: sha1:86bfd49984cc903b58febdd7d5a986e663f1132c
--! Message: adaptive wakeup

-- Adaptive wake-up: NOTIFY only when a delivery service is asleep.
--
-- A transaction that issued NOTIFY takes a database-wide lock at commit and holds it through the
-- WAL flush, so notifying commits serialise: with a NOTIFY in every transaction that creates
-- notification rows, 16 concurrent writers ran at a fraction of the same UPDATEs without it
-- (docs/benchmarks.md). A NOTIFY is only needed when a service is waiting for one; a busy service
-- claims again by itself after each send. So each service announces its sleep with an advisory
-- lock, and the trigger notifies only when it sees one.
--
-- The lock: advisory lock key notifier.sleep_lock_key() ('notifier' in ASCII).
--   A service that has nothing to do takes it EXCLUSIVELY on a session of its own
--   (notifier.begin_listener_sleep), after its LISTEN is in effect, then claims once more and
--   waits; it releases it when it wakes up (notifier.end_listener_sleep).
--   notifier.wake_listeners(), called by the transaction that creates rows, tries to take it
--   SHARED until the end of the transaction, without waiting:
--     - it fails when a service holds it (asleep) or waits for it (falling asleep): NOTIFY;
--     - it succeeds when no service sleeps: no NOTIFY, and the shared lock, held until this
--       transaction ends, keeps any service from falling asleep before the rows are committed.
--
-- Why no wake-up that matters is lost (a transaction T creating rows, any service S):
--   1. S asleep or falling asleep when T calls wake_listeners: the try fails (PostgreSQL also
--      refuses a lock that conflicts with a queued request), T notifies, and the notification
--      reaches S, which was LISTENing before it asked for the lock.
--   2. No service asleep: T holds the lock shared until it commits or rolls back. A service that
--      wants to sleep asks for it exclusively and is granted it only after T has ended; a
--      committed transaction is visible before its locks are released, so the claim the service
--      makes right after the grant sees T's rows. A service that claims before that is awake.
--   The fallback poll of the service still bounds the worst case (a service whose lock session
--   dropped, a lost notification across a reconnect).
--
-- Trade-offs (docs/benchmarks.md): while a service waits for the lock, a long transaction that
-- created rows makes it wait too (bounded by the service's lock timeout, after which it claims
-- anyway); a PREPAREd transaction holds the shared lock until COMMIT PREPARED.

create function notifier.sleep_lock_key() returns bigint
language sql immutable parallel safe
set search_path = pg_catalog
as $$ select 7957695015192261234::bigint $$;  -- x'6e6f746966696572', 'notifier'

comment on function notifier.sleep_lock_key() is
  'The advisory lock a sleeping delivery service holds exclusively; see notifier.wake_listeners().';

create or replace function notifier.wake_listeners() returns void
language plpgsql
set search_path = pg_catalog
as $$
begin
  if not pg_try_advisory_xact_lock_shared(notifier.sleep_lock_key()) then
    perform pg_notify('notifier', 'pending');
  end if;
end;
$$;

comment on function notifier.wake_listeners() is
  'Wakes the delivery services that are asleep (NOTIFY notifier), and only those: when none '
  'sleeps, holds the sleep lock shared until commit so none falls asleep before seeing the rows.';

-- For the service's dedicated lock session. Returns true once the lock is held; false when it
-- could not be taken within wait_ms (then the service claims and tries again).
create function notifier.begin_listener_sleep(wait_ms integer) returns boolean
language plpgsql
set search_path = pg_catalog
as $$
begin
  perform set_config('lock_timeout', wait_ms || 'ms', true);
  perform pg_advisory_lock(notifier.sleep_lock_key());
  return true;
exception when lock_not_available then
  return false;
end;
$$;

comment on function notifier.begin_listener_sleep(integer) is
  'A delivery service with nothing to do takes the sleep lock (waiting at most wait_ms), then '
  'claims once more before it waits for a NOTIFY.';

create function notifier.end_listener_sleep() returns boolean
language sql
set search_path = pg_catalog
as $$ select pg_advisory_unlock(notifier.sleep_lock_key()) $$;

comment on function notifier.end_listener_sleep() is
  'A delivery service woke up: transactions stop notifying until a service sleeps again.';
