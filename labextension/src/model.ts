/**
 * The one model of the panel: what is installed, what the marketplace shows, what is being
 * done, and how the last action went. Every view renders from it and re-renders on
 * `stateChanged`; every change goes through it, so the views hold no server state.
 */
import { ServerConnection } from '@jupyterlab/services';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { VDomModel } from '@jupyterlab/ui-components';

import { ICatalogEntry, IInstalledPlugin, IPluginsClient, IVersionSwitch } from './api';
import { compareVersions, newerVersion } from './versions';

/** The outcome of the last action, shown in the panel's status line. */
export interface IStatus {
  kind: 'info' | 'error';
  text: string;
}

/** What is being done to a plugin (its controls are disabled meanwhile). */
export type PluginAction = 'install' | 'update' | 'enable' | 'version' | 'uninstall';

export class PluginsModel extends VDomModel {
  constructor(options: PluginsModel.IOptions) {
    super();
    this._client = options.client;
    this._trans = (options.translator ?? nullTranslator).load('omniscope_jupyter');
  }

  /** Installed plugins, or null until the first answer. */
  get installed(): ReadonlyArray<IInstalledPlugin> | null {
    return this._installed;
  }

  /** Why the installed list could not be loaded, or null. */
  get installedError(): string | null {
    return this._installedError;
  }

  /** Featured plugins or search results, or null until the first answer. */
  get results(): ReadonlyArray<ICatalogEntry> | null {
    return this._results;
  }

  /** The query `results` answer; empty for the featured list. */
  get resultsQuery(): string {
    return this._resultsQuery;
  }

  /** The query asked last (the one reloads repeat). */
  get query(): string {
    return this._query;
  }

  /** Why the marketplace could not be searched, or null. */
  get searchError(): string | null {
    return this._searchError;
  }

  /** Whether a list is being (re)loaded. */
  get isLoading(): boolean {
    return this._loadingInstalled > 0 || this._searching > 0;
  }

  /** The outcome of the last action, or null. */
  get status(): IStatus | null {
    return this._status;
  }

  /** What is being done to `name`, or null. */
  pendingAction(name: string): PluginAction | null {
    return this._pending.get(name) ?? null;
  }

  /**
   * The version a marketplace entry could be updated to: its catalog's latest version when
   * the entry is installed here and the active version is older; else null.
   */
  availableUpdate(entry: ICatalogEntry): string | null {
    return entry.installed ? newerVersion(entry.latest_version, entry.installed_version) : null;
  }

  /** The newest catalog version of an installed plugin that is newer than its active one. */
  updateFor(plugin: IInstalledPlugin): string | null {
    return newerVersion(this._newestEntry(plugin.name)?.latest_version, plugin.active_version);
  }

  /** Reload both lists (the toolbar's refresh); clears the status line. */
  async refresh(): Promise<void> {
    this._status = null;
    await this._reload();
  }

  /** Reload the installed list. */
  async refreshInstalled(): Promise<void> {
    const request = ++this._installedRequests;
    this._loadingInstalled++;
    this._changed();
    try {
      const plugins = await this._client.installed();
      if (request === this._installedRequests) {
        this._installed = plugins;
        this._installedError = null;
      }
    } catch (error) {
      if (request === this._installedRequests) {
        this._installedError = this.messageOf(error);
      }
    } finally {
      this._loadingInstalled--;
      this._changed();
    }
  }

  /** Search the marketplace; an empty query lists the featured plugins. */
  async search(query: string): Promise<void> {
    query = query.trim();
    this._query = query;
    // Only the answer to the newest request is shown: an older one may arrive later.
    const request = ++this._searchRequests;
    this._searching++;
    this._changed();
    try {
      const results = query
        ? await this._client.search(query)
        : await this._client.featured();
      if (request === this._searchRequests) {
        this._results = results;
        this._resultsQuery = query;
        this._searchError = null;
        for (const entry of results) {
          this._catalog.set(`${entry.source ?? 'local'}\u0000${entry.name}`, entry);
        }
      }
    } catch (error) {
      if (request === this._searchRequests) {
        this._resultsQuery = query;
        this._searchError = this.messageOf(error);
      }
    } finally {
      this._searching--;
      this._changed();
    }
  }

  /**
   * Install a marketplace entry, then enable it (as the notebook widget does): a plugin
   * installed from the marketplace is meant to be used.
   */
  install(entry: ICatalogEntry): Promise<boolean> {
    return this._run(entry.name, 'install', async () => {
      const result = await this._client.installFromMarketplace(entry.name, entry.source);
      const id = result.plugin_id || entry.name;
      try {
        await this._client.setEnabled(id, true);
      } catch (error) {
        return {
          kind: 'error',
          text: this._trans.__(
            'Installed %1 %2, but could not enable it: %3',
            id,
            result.version,
            this.messageOf(error)
          )
        };
      }
      return {
        kind: 'info',
        text: this._trans.__('Installed and enabled %1 %2.', id, result.version)
      };
    });
  }

  /**
   * Update `name` to the newest version its catalog has. The server fetches a version of its
   * own catalog itself (`update {}`); one of a remote marketplace is installed first.
   */
  update(name: string): Promise<boolean> {
    const entry = this._newestEntry(name);
    return this._run(name, 'update', async () => {
      let answer: IVersionSwitch;
      if (entry && entry.source && entry.source !== 'local') {
        const target = entry.latest_version;
        const installed = this._installed?.find(p => p.plugin_id === name || p.name === name);
        if (!installed?.versions.includes(target)) {
          await this._client.installFromMarketplace(name, entry.source, target);
        }
        answer = await this._client.update(name, target);
      } else {
        answer = await this._client.update(name);
      }
      return {
        kind: 'info',
        text: this._trans.__('Updated %1 to %2.', name, answer.active_version)
      };
    });
  }

  /** Enable or disable an installed plugin. */
  setEnabled(plugin: IInstalledPlugin, enabled: boolean): Promise<boolean> {
    const id = plugin.plugin_id;
    return this._run(id, 'enable', async () => {
      await this._client.setEnabled(id, enabled);
      return {
        kind: 'info',
        text: enabled ? this._trans.__('Enabled %1.', id) : this._trans.__('Disabled %1.', id)
      };
    });
  }

  /**
   * Make `target` the active version: an update when it is newer than the active one, else a
   * rollback (the server refuses the wrong verb with 409).
   */
  switchVersion(plugin: IInstalledPlugin, target: string): Promise<boolean> {
    const id = plugin.plugin_id;
    return this._run(id, 'version', async () => {
      if (compareVersions(target, plugin.active_version) > 0) {
        await this._client.update(id, target);
        return { kind: 'info', text: this._trans.__('Updated %1 to %2.', id, target) };
      }
      // The reason is stored in the plugin's history, which every user of the server reads:
      // it stays in English rather than in this user's language.
      await this._client.rollback(
        id,
        target,
        `Rolled back from ${plugin.active_version} in the JupyterLab panel`
      );
      return { kind: 'info', text: this._trans.__('Rolled back %1 to %2.', id, target) };
    });
  }

  /** Uninstall every version of a plugin (the view asks for a confirmation first). */
  uninstall(plugin: IInstalledPlugin): Promise<boolean> {
    const id = plugin.plugin_id;
    return this._run(id, 'uninstall', async () => {
      await this._client.uninstall(id);
      return { kind: 'info', text: this._trans.__('Uninstalled %1.', id) };
    });
  }

  /** Clear the status line. */
  dismissStatus(): void {
    this._status = null;
    this._changed();
  }

  /**
   * The sentence to show for a failure: the server's own `message` for a refused call; for a
   * bug in the panel a generic sentence, with the details in the browser console.
   */
  messageOf(error: unknown): string {
    if (error instanceof ServerConnection.ResponseError) {
      return error.message;
    }
    if (error instanceof ServerConnection.NetworkError) {
      return this._trans.__(
        'Could not reach the Jupyter server; check that it is still running.'
      );
    }
    console.error('omniscope-jupyter:', error);
    return this._trans.__(
      'Something went wrong in the plugins panel; see the browser console.'
    );
  }

  /**
   * Run one action on `name` (ignored while another one on it runs, so a double click does
   * not install twice), report its outcome, then show the server's state: a change the
   * server refused must not stay shown as done, and the store may have changed meanwhile.
   */
  private async _run(
    name: string,
    action: PluginAction,
    run: () => Promise<IStatus>
  ): Promise<boolean> {
    if (this._pending.has(name)) {
      return false;
    }
    this._pending.set(name, action);
    this._status = null;
    this._changed();
    let ok = false;
    try {
      this._status = await run();
      ok = this._status.kind === 'info';
    } catch (error) {
      this._status = { kind: 'error', text: this.messageOf(error) };
    }
    try {
      await this._reload();
    } finally {
      this._pending.delete(name);
      this._changed();
    }
    return ok;
  }

  private async _reload(): Promise<void> {
    await Promise.all([this.refreshInstalled(), this.search(this._query)]);
  }

  /** The catalog entry with the newest version of `name` among every result seen. */
  private _newestEntry(name: string): ICatalogEntry | null {
    let newest: ICatalogEntry | null = null;
    for (const entry of this._catalog.values()) {
      if (
        entry.name === name &&
        (!newest || compareVersions(entry.latest_version, newest.latest_version) > 0)
      ) {
        newest = entry;
      }
    }
    return newest;
  }

  private _changed(): void {
    if (!this.isDisposed) {
      this.stateChanged.emit();
    }
  }

  private readonly _client: IPluginsClient;
  private readonly _trans: TranslationBundle;
  private _installed: IInstalledPlugin[] | null = null;
  private _installedError: string | null = null;
  private _installedRequests = 0;
  private _loadingInstalled = 0;
  private _results: ICatalogEntry[] | null = null;
  private _resultsQuery = '';
  private _query = '';
  private _searchError: string | null = null;
  private _searchRequests = 0;
  private _searching = 0;
  /** Every catalog entry seen, by source and name: what the installed view knows of updates. */
  private readonly _catalog = new Map<string, ICatalogEntry>();
  private readonly _pending = new Map<string, PluginAction>();
  private _status: IStatus | null = null;
}

export namespace PluginsModel {
  export interface IOptions {
    client: IPluginsClient;
    translator?: ITranslator | null;
  }
}
