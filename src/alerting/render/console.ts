import type { NotificationContent } from '../model/notification.js';
import { renderEmail } from './email.js';

/** Plain text for the console channel (what would be sent). */
export function renderConsole(c: NotificationContent, now = Date.now()): string {
  return renderEmail(c, {}, now).text;
}
