// What a lab scenario is: a topology, the traffic a field report describes, a paragraph
// saying what to look at, and the report lines that answer the report's question.
import type { IpFamily, LabConfig, ProxySetup } from '../lab/config.js';
import type { Lab } from '../lab/lab.js';
import type { Report } from '../report/types.js';

/** How a scenario's lab is built: kube-proxy's mode, and the family its traffic runs over (default IPv4). */
export interface ScenarioSetup extends ProxySetup {
  family?: IpFamily;
}

export interface ScenarioContext {
  lab: Lab;
  /** Fires on Ctrl-C or when the TUI quits: traffic stops early. */
  signal: AbortSignal;
  /** Length of one traffic phase. */
  phaseMs: number;
  /** A progress line (stderr). */
  say(text: string): void;
  /** Runs `fn` at teardown, before the lab goes down (latest first). */
  defer(fn: () => Promise<void> | void): void;
  /**
   * `--late-start`: the agents start after `prepare`, which opens the scenario's long-lived connections, so the
   * answer comes from the connections open when tracing began (issue 26).
   */
  lateStart: boolean;
  /**
   * Whether the node counts bytes per connection (net.netfilter.nf_conntrack_acct, set by the scenario before its
   * connections: it counts those that begin after it). Off, as on many kernels by default, the answer has open
   * connections and says bytes are unavailable.
   */
  byteCounters: boolean;
}

export interface Scenario<E = unknown> {
  name: string;
  /** The field report in seeds/ this reproduces (a file name), or the issues it answers. */
  seed: string;
  /** One line: what the scenario shows. */
  summary: string;
  /** Default length of one traffic phase. */
  defaultPhaseMs: number;
  /** The scenario's IPv4 lab, with its nodes in the proxy mode the run asked for (run.ts makes it IPv6: overFamily). */
  config(setup: ProxySetup): LabConfig;
  /** Whether the scenario can run with `--late-start` (its `prepare` then opens connections before the agents). */
  lateStart?: boolean;
  /**
   * The lab served as a cluster's API (`lab api`) to the report and the TUI, as `--k8s` (the topology figures need its
   * facts: zones, hints, policies): the lab's objects as they are when the agents start.
   */
  api?: boolean;
  /** After the lab is up, before the agents start: servers, sysctls, endpoints. */
  prepare?(ctx: ScenarioContext): Promise<void>;
  /** Runs the traffic; returns the ground truth gathered before teardown (backend logs, ...). */
  traffic(ctx: ScenarioContext): Promise<E>;
  /** The paragraph printed before the traffic: what to look at. */
  lookAt(lab: Lab): string;
  /** The report lines (with the ground truth beside them) that answer the field report's question. */
  answer(report: Report, evidence: E, lab: Lab): string[];
}
