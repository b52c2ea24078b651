--! Previous: sha1:8f7fc11f63e434438bf3dcafd13dd4758605aacb
--! Hash: sha1:2c4da37c4ca672414315a5a4272389197401611e
--! Message: the service role may set notifier.settings.wrapup_grace

-- CONTRACT §5.4 names NOTIFIER_WRAPUP_GRACE (default 300 s); migration 000030 made the grace one
-- value for the database (notifier.settings.wrapup_grace) so that two services cannot disagree
-- about when a wrapup is lost. Both hold: a service started with NOTIFIER_WRAPUP_GRACE (or
-- --wrapup-grace) writes it into notifier.settings.wrapup_grace at start, logging the old and the
-- new value; started without it, the database's value stands. The service role gets UPDATE on
-- that one column (the column's CHECK of 000030 still bounds it), nothing else of the table.
--
-- Locks: GRANT changes only the catalog entry of notifier.settings (no host table).

grant update (wrapup_grace) on notifier.settings to ":NOTIFIER_SERVICE_ROLE";
