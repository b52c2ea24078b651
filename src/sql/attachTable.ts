import { z } from "zod";
import { sql, type CommonQueryMethods } from "../db.js";

export interface TableAttachment {
  table: string;
  idColumn: string;
  statusColumn: string;
  /** B: the column that becomes non-NULL; or, with wrapupEvents, null. */
  wrapupColumn: string | null;
  /** B from an event row instead: the (possibly partitioned) events table and its columns. */
  wrapupEvents?: { table: string; jobColumn?: string; nameColumn?: string; names?: string[] };
  /** Boolean SQL over the row: false means no wrapup will come (default true). */
  dispatched?: string;
  nameColumn?: string;
  jobTemplateColumn?: string;
  organizationColumn?: string;
  /** Text SQL over the row (default 'job'). */
  kind?: string;
  /** Host status word → AWX status word. */
  statusMap?: Record<string, string>;
  /** Columns left out of message snapshots. */
  snapshotExclude?: string[];
}

/** notifier.attach_table(): validates, then creates the triggers; returns the SQL it ran (or would run, dryRun). */
export async function attachTable(db: CommonQueryMethods, attachment: TableAttachment, dryRun = false): Promise<string> {
  return db.oneFirst(sql.type(z.object({ ddl: z.string() }))`
    select notifier.attach_table(
      ${attachment.table}, ${attachment.idColumn}, ${attachment.statusColumn}, ${attachment.wrapupColumn}::text,
      dispatched => ${attachment.dispatched ?? "true"},
      name_column => ${attachment.nameColumn ?? null}::text,
      job_template_column => ${attachment.jobTemplateColumn ?? null}::text,
      organization_column => ${attachment.organizationColumn ?? null}::text,
      kind => ${attachment.kind ?? "'job'"},
      status_map => ${attachment.statusMap ? sql.jsonb(attachment.statusMap) : null}::jsonb,
      snapshot_exclude => ${sql.array(attachment.snapshotExclude ?? [], "text")},
      dry_run => ${dryRun},
      wrapup_events => ${attachment.wrapupEvents?.table ?? null}::text,
      event_job_column => ${attachment.wrapupEvents?.jobColumn ?? "job_id"},
      event_name_column => ${attachment.wrapupEvents?.nameColumn ?? "event"},
      wrapup_event_names => ${sql.array(attachment.wrapupEvents?.names ?? ["playbook_on_stats", "EOF"], "text")}) as ddl`);
}
