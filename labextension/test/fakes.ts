/**
 * Test doubles shared by the specs: a plugins client that records its calls, sample answers.
 */
import { ServerConnection } from '@jupyterlab/services';

import {
  ICatalogEntry,
  IDetailsClient,
  IExecution,
  IInstalledPlugin,
  IInstallResult,
  IPluginsClient,
  IReadme,
  IReviews,
  IScanReport,
  IVersionSwitch
} from '../src/api';

type Calls = IPluginsClient & IDetailsClient;

export function refused(status: number, message: string): ServerConnection.ResponseError {
  const response = new Response(JSON.stringify({ message }), { status });
  return new ServerConnection.ResponseError(response, message);
}

export function plugin(overrides: Partial<IInstalledPlugin> = {}): IInstalledPlugin {
  return {
    plugin_id: 'my_plugin',
    name: 'my_plugin',
    active_version: '1.0.0',
    versions: ['1.0.0'],
    enabled: false,
    ...overrides
  };
}

export function entry(overrides: Partial<ICatalogEntry> = {}): ICatalogEntry {
  return {
    source: 'local',
    name: 'my_plugin',
    latest_version: '1.0.0',
    versions: ['1.0.0'],
    installed: false,
    installed_version: null,
    ...overrides
  };
}

/** A client double that records every call as "verb args" and answers from its fields. */
export class FakeClient implements IPluginsClient, IDetailsClient {
  calls: string[] = [];
  installedPlugins: IInstalledPlugin[] = [];
  catalog: ICatalogEntry[] = [];
  fail: Partial<Record<keyof Calls, unknown>> = {};
  readmeHtml: string | null = '<h1>My plugin</h1><p>Does things.</p>';
  findings: NonNullable<IScanReport['report']>['findings'] = [];
  reviewList: IReviews['reviews'] = [];
  runs: IExecution[] = [];

  private async answer<T>(name: keyof Calls, call: string, value: () => T): Promise<T> {
    this.calls.push(call);
    await Promise.resolve();
    if (name in this.fail) {
      throw this.fail[name];
    }
    return value();
  }

  featured(): Promise<ICatalogEntry[]> {
    return this.answer('featured', 'featured', () => this.catalog);
  }
  search(query: string): Promise<ICatalogEntry[]> {
    return this.answer('search', `search ${query}`, () =>
      this.catalog.filter(e => e.name.includes(query))
    );
  }
  installed(): Promise<IInstalledPlugin[]> {
    return this.answer('installed', 'installed', () => this.installedPlugins);
  }
  installFromMarketplace(name: string, source?: string, version?: string): Promise<IInstallResult> {
    const call = ['install', name, source, version].filter(Boolean).join(' ');
    return this.answer('installFromMarketplace', call, () => ({
      plugin_id: name,
      version: version ?? this.catalog.find(e => e.name === name)?.latest_version ?? '0.0.0',
      enabled: false
    }));
  }
  setEnabled(pluginId: string, enabled: boolean): Promise<unknown> {
    return this.answer('setEnabled', `${enabled ? 'enable' : 'disable'} ${pluginId}`, () => ({}));
  }
  update(pluginId: string, targetVersion?: string): Promise<IVersionSwitch> {
    const call = ['update', pluginId, targetVersion].filter(Boolean).join(' ');
    return this.answer('update', call, () => ({
      plugin_id: pluginId,
      active_version: targetVersion ?? '1.1.0'
    }));
  }
  rollback(pluginId: string, targetVersion: string, _reason: string): Promise<IVersionSwitch> {
    return this.answer('rollback', `rollback ${pluginId} ${targetVersion}`, () => ({
      plugin_id: pluginId,
      active_version: targetVersion
    }));
  }
  uninstall(pluginId: string): Promise<unknown> {
    return this.answer('uninstall', `uninstall ${pluginId}`, () => ({}));
  }
  readme(pluginId: string): Promise<IReadme> {
    return this.answer('readme', `readme ${pluginId}`, () => ({
      plugin_id: pluginId,
      version: '1.0.0',
      readme: this.readmeHtml === null ? null : 'text',
      html: this.readmeHtml
    }));
  }
  scanReport(pluginId: string): Promise<IScanReport> {
    return this.answer('scanReport', `scan ${pluginId}`, () => ({
      plugin_id: pluginId,
      version: '1.0.0',
      report: { passed: true, findings: this.findings, scanners: ['bandit'] }
    }));
  }
  reviews(pluginId: string): Promise<IReviews> {
    return this.answer('reviews', `reviews ${pluginId}`, () => ({
      reviews: this.reviewList,
      rating: { average: this.reviewList.length ? 4 : null, count: this.reviewList.length }
    }));
  }
  addReview(pluginId: string, text: string, rating: number | null): Promise<unknown> {
    return this.answer('addReview', `review ${pluginId} ${rating ?? '-'} ${text}`, () => {
      this.reviewList = [{ id: this.reviewList.length + 1, user: 'me', text, rating }, ...this.reviewList];
      return {};
    });
  }
  executions(pluginId: string): Promise<IExecution[]> {
    return this.answer('executions', `executions ${pluginId}`, () => this.runs);
  }
  execution(pluginId: string, executionId: string): Promise<IExecution> {
    return this.answer('execution', `execution ${pluginId} ${executionId}`, () => {
      const run = this.runs.find(r => r.execution_id === executionId);
      if (!run) {
        throw new Error(`no run ${executionId}`);
      }
      return run;
    });
  }
}

export function run(overrides: Partial<IExecution> = {}): IExecution {
  return {
    execution_id: '0123abcd-0000-4000-8000-000000000000',
    plugin_id: 'my_plugin',
    version: '1.0.0',
    status: 'succeeded',
    duration_ms: 12.5,
    started_at: '2026-12-02T10:00:00+00:00',
    ...overrides
  };
}
