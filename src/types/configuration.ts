import { z } from "zod";
import { MAX_TIMER_SECONDS } from "../config.js";

/**
 * zod pieces for notification configurations, mirroring how SQL checks a template when it is
 * written (notifier.validate_notification_template): a required string or list is non-empty, a
 * number is positive, and an optional key may be absent or JSON null.
 */

/** A required, non-empty string. */
export const requiredText = z.string().min(1);

/** A required, non-empty list of non-empty strings (channels, numbers, targets). */
export const requiredList = z.array(z.string().min(1)).min(1);

/**
 * `timeout`: seconds one attempt may take, at most MAX_TIMER_SECONDS (a timer holds no more;
 * SQL checks the same bound, migration 000015); the service's default applies when absent.
 */
export const timeoutSeconds = z.number().positive().max(MAX_TIMER_SECONDS).nullish();
