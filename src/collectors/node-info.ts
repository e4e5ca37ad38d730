import { readFile } from 'node:fs/promises';
import { hostname, machine, release, type, version } from 'node:os';
import { gauge, type MetricFamily } from '../metrics/exposition.js';
import type { Collector } from './collector.js';

export interface UnameFields {
  sysname: string;
  release: string;
  version: string;
  machine: string;
  nodename: string;
  domainname: string;
}

/** node_exporter's uname collector: `node_uname_info`, which node dashboards fill their variables from. */
export function unameFamilies(u: UnameFields): MetricFamily[] {
  return [
    gauge('node_uname_info', 'Labeled system information as provided by the uname system call.').add(
      { ...u },
      1,
    ),
  ];
}

/** The uname(2) fields of the kernel stackwatch runs on (in a container: its UTS namespace, like node_exporter). */
export async function readUname(): Promise<UnameFields> {
  // uname(2) reports "(none)" when no NIS domain is set; Node has no call for the domain name.
  const domainname = (await readFile('/proc/sys/kernel/domainname', 'utf8').catch(() => '(none)')).trim();
  return {
    sysname: type(),
    release: release(),
    version: version(),
    machine: machine(),
    nodename: hostname(),
    domainname,
  };
}

export class UnameCollector implements Collector {
  readonly name = 'uname';

  async collect(): Promise<MetricFamily[]> {
    return unameFamilies(await readUname());
  }
}
