import { escapeHtml, safeUrl } from '../alerting/index.js';

// Server-rendered HTML for the console. Every value placed in a page goes through `h`
// (escaped text) or `raw` (markup built here); there is no way to put an unescaped string
// into a page by accident, so a hostile label value is always shown as text.

/** Markup that is already safe to place in a page. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Part = Html | string | number | null | undefined | false | readonly Part[];

function flatten(p: Part, out: string[]): void {
  if (p === null || p === undefined || p === false) return;
  if (p instanceof Html) out.push(p.text);
  else if (Array.isArray(p)) for (const x of p as readonly Part[]) flatten(x, out);
  else out.push(escapeHtml(String(p)));
}

/** A template tag: literal markup, interpolated values escaped (arrays and Html kept). */
export function h(strings: TemplateStringsArray, ...values: Part[]): Html {
  const out: string[] = [];
  strings.forEach((s, i) => {
    out.push(s);
    if (i < values.length) flatten(values[i] as Part, out);
  });
  return new Html(out.join(''));
}

export const raw = (markup: string) => new Html(markup);

/** A link to an external http(s) URL, or the URL as text when it is not one. */
export function externalLink(u: string, text: string): Html {
  const safe = safeUrl(u);
  return safe ? h`<a href="${safe}" rel="noreferrer noopener">${text}</a>` : h`${u}`;
}

export const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? '' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface PageContext {
  title: string;
  /** Navigation and logout appear for a signed-in person. */
  user?: string;
  /** A sign-out button (not with basic auth: the browser keeps sending its credentials). */
  signOut?: boolean;
  csrf?: string;
  /** The page's navigation entry, highlighted. */
  active?: string;
  /** A notice shown above the content (after an action). */
  notice?: { kind: 'ok' | 'error'; text: string };
}

const NAV: [string, string][] = [
  ['/', 'Now'],
  ['/overview', 'Overview'],
  ['/notifications', 'Notifications'],
  ['/dead-letters', 'Dead letters'],
  ['/maintenance', 'Maintenance'],
  ['/route-test', 'Route test'],
  ['/template-test', 'Template test'],
  ['/contacts', 'Contacts'],
  ['/schedules', 'On call'],
  ['/acknowledgements', 'Acknowledgements'],
];

/** A hidden CSRF field for a state-changing form. */
export const csrfField = (csrf: string | undefined) =>
  h`<input type="hidden" name="csrf" value="${csrf ?? ''}">`;

export function page(ctx: PageContext, body: Html): string {
  const links = h`<ul>${NAV.map(
    ([href, label]) =>
      h`<li><a href="${href}"${ctx.active === href ? raw(' aria-current="page"') : ''}>${label}</a></li>`,
  )}</ul>`;
  const account = ctx.signOut
    ? h`<form method="post" action="/logout" class="logout">${csrfField(ctx.csrf)}<button type="submit">Sign out ${ctx.user}</button></form>`
    : h`<span class="logout">Signed in as ${ctx.user}</span>`;
  const current = NAV.find(([href]) => href === ctx.active)?.[1];
  // Wide screens: one row of links. Narrow ones: a menu that opens without any script.
  const nav = ctx.user
    ? h`<nav aria-label="Console" class="wide">${links}${account}</nav><details class="menu"><summary>Menu${current ? h`<span class="muted-text"> · ${current}</span>` : ''}</summary><nav aria-label="Console menu">${links}${account}</nav></details>`
    : '';
  const notice = ctx.notice
    ? h`<p class="notice ${ctx.notice.kind}" role="${ctx.notice.kind === 'error' ? 'alert' : 'status'}">${ctx.notice.text}</p>`
    : '';
  return h`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${ctx.title} · stackwatch</title>
<link rel="stylesheet" href="/console.css">
</head><body>
<header><a class="brand" href="/">stackwatch</a>${nav}</header>
<main id="main"><h1>${ctx.title}</h1>${notice}${body}</main>
</body></html>
`.text;
}

/**
 * The policy every console page is served with: no script at all, styles and images only
 * from stackwatch itself, forms only back to it, never framed.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export const CONSOLE_CSS = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC",sans-serif;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:8px 12px;display:flex;flex-wrap:wrap;align-items:center;gap:8px}
header a{color:#fff}
.brand{font-weight:700;font-size:17px;text-decoration:none;margin-right:12px}
nav{display:flex;flex-wrap:wrap;align-items:center;gap:4px;flex:1}
nav ul{display:flex;flex-wrap:wrap;gap:4px;list-style:none;margin:0;padding:0}
details.menu{display:none}
nav a{display:inline-block;padding:6px 8px;border-radius:4px;text-decoration:none}
nav a[aria-current=page]{background:#57606a}
.logout{margin-left:auto}
main{padding:12px;max-width:1200px;margin:0 auto}
h1{font-size:22px;margin:8px 0 12px}
h2{font-size:18px;margin:18px 0 8px}
a{color:#0969da}
a:focus,button:focus,input:focus,select:focus,textarea:focus{outline:3px solid #0969da;outline-offset:1px}
.table-wrap{overflow-x:auto;background:#fff;border:1px solid #d0d7de;border-radius:6px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #d0d7de;vertical-align:top}
th{background:#f6f8fa;font-size:13px}
td.wrap{word-break:break-word;min-width:12em}
code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-word}
pre.wrap{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;white-space:pre-wrap;word-break:break-word;background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px;max-height:32em;overflow:auto}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:8px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px}
.card b{display:block;font-size:24px}
form.inline{display:inline}
form.filters,form.stack{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-end;background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px;margin-bottom:12px}
form.stack{flex-direction:column;align-items:stretch;max-width:560px}
label{display:flex;flex-direction:column;font-size:13px;gap:2px}
input,select,textarea,button{font:inherit;padding:8px;border:1px solid #8c959f;border-radius:4px;min-height:40px}
button{background:#1f6feb;color:#fff;border-color:#1f6feb;cursor:pointer}
button.secondary{background:#fff;color:#1f2328;border-color:#8c959f}
button.danger{background:#cf222e;border-color:#cf222e}
header button{background:transparent;border-color:#8c959f;color:#fff;min-height:32px;padding:4px 8px}
.notice{padding:8px 10px;border-radius:6px}
.notice.ok{background:#dafbe1;border:1px solid #4ac26b}
.notice.error{background:#ffebe9;border:1px solid #ff8182}
.status{display:inline-block;padding:1px 6px;border-radius:10px;font-size:12px;background:#eaeef2}
.status.sent,.status.up{background:#dafbe1}.status.dead,.status.down{background:#ffebe9}
.status.pending{background:#fff8c5}.status.muted{background:#ddf4ff}
.muted-text{color:#57606a;font-size:13px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px}
dt{font-weight:600}dd{margin:0;word-break:break-word}
a.button{display:inline-block;padding:8px 12px;border:1px solid #8c959f;border-radius:4px;background:#fff;color:#1f2328;text-decoration:none;min-height:40px}
.groups{display:grid;gap:8px}
article.group{background:#fff;border:1px solid #d0d7de;border-left:6px solid #8c959f;border-radius:6px;padding:8px 10px}
article.group.lane-critical,article.group.lane-self{border-left-color:#cf222e}
article.group.lane-warning{border-left-color:#d4a72c}
article.group.acked{border-left-color:#4ac26b}
article.group h3{font-size:16px;margin:0 0 4px;word-break:break-word}
article.group p{margin:2px 0}
.sev{display:inline-block;padding:0 6px;border-radius:10px;font-size:12px;background:#eaeef2;vertical-align:2px}
.lane-critical .sev,.lane-self .sev{background:#ffebe9}
.warn{color:#cf222e}
ul.alerts{margin:2px 0 6px;padding-left:18px;word-break:break-word}
dl.facts{border:0;padding:0;background:none;gap:2px 10px;margin:4px 0}
.actions{display:flex;flex-wrap:wrap;gap:6px;align-items:center}
details.lane summary{cursor:pointer}
details.lane summary h2{display:inline}
ol.timeline{list-style:none;padding:0;margin:0;border-left:3px solid #d0d7de}
ol.timeline>li{position:relative;margin:0 0 8px;padding:4px 8px 4px 12px;background:#fff;border:1px solid #d0d7de;border-left:0;border-radius:0 6px 6px 0;word-break:break-word}
ol.timeline>li.firing,ol.timeline>li.new-alerts,ol.timeline>li.escalation{border-left:4px solid #cf222e}
ol.timeline>li.resolved,ol.timeline>li.acknowledged{border-left:4px solid #4ac26b}
ol.timeline>li.window-start,ol.timeline>li.window-end{border-left:4px solid #0969da}
ol.timeline time{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;color:#57606a}
ol.timeline ul{margin:2px 0 0;padding-left:18px;font-size:14px}
@media (max-width:600px){
  article.group{padding:6px 8px}
  dl.facts{grid-template-columns:max-content 1fr}
  header{padding:6px 8px;gap:2px;flex-wrap:nowrap;position:relative}
  nav.wide{display:none}
  details.menu{display:block;margin-left:auto}
  details.menu summary{cursor:pointer;padding:6px 10px;border:1px solid #8c959f;border-radius:4px;white-space:nowrap}
  details.menu summary .muted-text{color:#d0d7de}
  details.menu nav{position:absolute;right:0;left:0;top:100%;z-index:10;background:#24292f;padding:6px 8px 10px;flex-direction:column;align-items:stretch}
  details.menu nav ul{flex-direction:column}
  details.menu nav a{display:block;padding:10px 8px;font-size:16px}
  main{padding:8px}
  table.responsive thead{display:none}
  table.responsive tr{display:block;border-bottom:2px solid #d0d7de;padding:4px 0}
  table.responsive td{display:flex;gap:8px;border:0;padding:3px 8px}
  table.responsive td::before{content:attr(data-label);font-weight:600;min-width:7.5em;color:#57606a}
  .logout{margin-left:0}
}
`;
