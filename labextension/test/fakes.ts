/**
 * Test doubles shared by the specs: a plugins client that records its calls, sample answers.
 */
import { ServerConnection } from '@jupyterlab/services';

import {
  ICatalogEntry,
  IInstalledPlugin,
  IInstallResult,
  IPluginsClient,
  IVersionSwitch
} from '../src/api';

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
export class FakeClient implements IPluginsClient {
  calls: string[] = [];
  installedPlugins: IInstalledPlugin[] = [];
  catalog: ICatalogEntry[] = [];
  fail: Partial<Record<keyof IPluginsClient, unknown>> = {};

  private async answer<T>(name: keyof IPluginsClient, call: string, value: () => T): Promise<T> {
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
}
