import type { ChannelName, ReceiverConfig, RouteInput } from '../../config/receiver.js';
import type { ContactBook, ResponsibleContact } from './contacts.js';
import { matchesAll, matcherText, toMatcher, type Labels, type Matcher } from '../../matchers.js';

// Route stage: an Alertmanager-style routing tree (ordered, `continue`, nested, inherited receiver).

interface RouteNode {
  receiver: string;
  matchers: Matcher[];
  continue: boolean;
  routes: RouteNode[];
  /** `route`, `route.routes[0]`, … for route-test output. */
  path: string;
}

export interface ReceiverTarget {
  name: string;
  channels: ChannelName[];
  recipients: string[];
  slack_webhook_url?: string;
  /** Robot channels: the URL that names the robot (or gateway). */
  dingtalk_webhook_url?: string;
  wecom_webhook_url?: string;
  feishu_webhook_url?: string;
  webhook?: { url: string };
  escalation_policy?: string;
}

function build(input: RouteInput, parentReceiver: string, path: string): RouteNode {
  const receiver = input.receiver ?? parentReceiver;
  return {
    receiver,
    matchers: (input.matchers ?? []).map(toMatcher),
    continue: input.continue ?? false,
    routes: (input.routes ?? []).map((r, i) => build(r, receiver, `${path}.routes[${i}]`)),
    path,
  };
}

export interface RouteMatch {
  receiver: string;
  path: string;
  matchers: string[];
}

export class Router {
  private readonly root: RouteNode;
  readonly receivers: Map<string, ReceiverTarget>;

  constructor(cfg: Pick<ReceiverConfig, 'route' | 'receivers'>) {
    this.root = build(cfg.route, cfg.route.receiver ?? cfg.receivers[0]?.name ?? '', 'route');
    this.receivers = new Map(cfg.receivers.map((r) => [r.name, r]));
  }

  /** The matching routes for one label set, in order (more than one with `continue`). */
  match(labels: Labels): RouteMatch[] {
    const out: RouteMatch[] = [];
    const visit = (node: RouteNode): boolean => {
      if (!matchesAll(node.matchers, labels)) return false;
      let matchedChild = false;
      for (const child of node.routes) {
        if (visit(child)) {
          matchedChild = true;
          if (!child.continue) break;
        }
      }
      if (!matchedChild)
        out.push({ receiver: node.receiver, path: node.path, matchers: node.matchers.map(matcherText) });
      return true;
    };
    visit(this.root);
    // The same receiver reached twice (through `continue`) notifies once.
    const seen = new Set<string>();
    return out.filter((m) => (seen.has(m.receiver) ? false : (seen.add(m.receiver), true)));
  }
}

export interface RouteTestResult {
  labels: Labels;
  routes: RouteMatch[];
  receivers: { name: string; channels: ChannelName[]; recipients: string[] }[];
  contacts: ResponsibleContact[];
  muted_by?: string[];
}

/** "Who would be told about these labels?" — nothing is sent. */
export function routeTest(router: Router, book: ContactBook, labels: Labels): RouteTestResult {
  const routes = router.match(labels);
  const receivers = routes.map((m) => {
    const r = router.receivers.get(m.receiver);
    return {
      name: m.receiver,
      channels: r?.channels ?? [],
      recipients: r && r.channels.includes('email') ? book.resolveRecipients(r.recipients) : [],
    };
  });
  return { labels, routes, receivers, contacts: book.responsible([{ labels }]) };
}
