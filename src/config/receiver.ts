import { z } from 'zod';

export const receiverSection = z
  .object({
    enabled: z.boolean().default(true),
    /** Bearer token Alertmanager must send; when unset the webhook is open (a warning is logged). */
    webhook_token: z.string().optional(),
  })
  .strict();
