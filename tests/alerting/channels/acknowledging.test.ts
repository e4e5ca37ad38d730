import { describe, expect, it } from 'vitest';
import { ackNote } from '../../../src/alerting/acknowledgement/tokens.js';
import { renderEmail } from '../../../src/alerting/render/email.js';
import { renderSlack } from '../../../src/alerting/render/slack.js';
import { testContent } from '../../../src/alerting/channels/send-test.js';
import { receiverSection } from '../../../src/config/receiver.js';
const now = Date.parse('2026-12-01T10:00:00Z');

describe('notifications carry the link or who acknowledged', () => {
  const content = testContent(receiverSection.parse({}), 'team-ops');
  const firing = { ...content, kind: 'alert' as const };

  it('renders an Acknowledge button in the email and in Slack', () => {
    const link = 'https://sw.example.com/acknowledge/abc.def';
    const mail = renderEmail({ ...firing, acknowledgement: { link } }, {}, now);
    expect(mail.html).toContain(`<a href="${link}"`);
    expect(mail.text).toContain(`Acknowledge: ${link}`);
    const blocks = renderSlack({ ...firing, acknowledgement: { link } }, now).attachments[0]!.blocks;
    // Right under the header and summary, before the alerts.
    const types = blocks.map((b) => b.type);
    expect(types.slice(0, 3)).toEqual(['header', 'section', 'actions']);
    expect(types.indexOf('actions')).toBeLessThan(types.indexOf('divider'));
    expect(blocks.find((b) => b.type === 'actions')).toEqual({
      type: 'actions',
      elements: [
        {
          type: 'button',
          action_id: 'acknowledge',
          style: 'primary',
          text: { type: 'plain_text', text: 'Acknowledge', emoji: false },
          url: link,
        },
      ],
    });
    // No link, no button.
    expect(renderSlack(firing, now).attachments[0]!.blocks.some((b) => b.type === 'actions')).toBe(false);
  });

  it('says who acknowledged, escaped, and makes no link of a javascript: URL', () => {
    const note = ackNote({ by: '<b>eve</b>', at: now });
    expect(note).toBe('Acknowledged by <b>eve</b> at 2026-12-01T10:00:00Z');
    const mail = renderEmail({ ...firing, acknowledgement: { note, link: 'javascript:alert(1)' } }, {}, now);
    expect(mail.html).toContain('Acknowledged by &lt;b&gt;eve&lt;/b&gt; at 2026-12-01T10:00:00Z.');
    expect(mail.html).not.toContain('javascript:');
    const slack = JSON.stringify(renderSlack({ ...firing, acknowledgement: { note } }, now));
    expect(slack).toContain('Acknowledged by &lt;b&gt;eve&lt;/b&gt;');
    const unsafe = renderSlack({ ...firing, acknowledgement: { link: 'javascript:alert(1)' } }, now);
    expect(JSON.stringify(unsafe)).not.toContain('javascript:');
  });
});
