/**
 * The REST client of the OmniScope plugin API (`/api/plugins/...`).
 *
 * Every call goes through `ServerConnection.makeRequest`, which adds the Jupyter token and the
 * XSRF cookie header, so the panel is authenticated exactly like JupyterLab itself. A failed call
 * rejects with an `ApiError` whose message is the server's JSON `message` (one sentence meant for
 * the user), never a stack trace.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** A refused or failed API call; `message` is fit to show to the user as is. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Rating of a catalog plugin: `average` is null until someone rates it. */
export interface IRating {
  average: number | null;
  count: number;
}

/** A catalog entry as answered by marketplace search and featured. */
export interface ICatalogEntry {
  name: string;
  latest_version: string;
  versions?: string[];
  description?: string;
  author?: string;
  language?: string;
  category?: string;
  rating?: IRating;
  downloads?: number;
  source?: string;
  installed?: boolean;
  installed_version?: string | null;
}

/** An installed plugin as answered by `GET /api/plugins/list`. */
export interface IInstalledPlugin {
  plugin_id: string;
  name: string;
  active_version: string;
  /** Installed versions, oldest first (semantic-version order). */
  versions: string[];
  enabled: boolean;
  language?: string;
  category?: string;
  description?: string;
  author?: string;
}

/** The part of an install answer the panel shows. */
export interface IInstallResult {
  plugin_id: string;
  version: string;
}

/**
 * Turn a non-2xx answer into the message to show.
 *
 * The server answers every error as JSON `{"message", "reason"}`; a proxy or a crashed server
 * may answer anything else, and then the status line is all the user needs.
 */
export function errorMessage(status: number, statusText: string, body: string): string {
  try {
    const data = JSON.parse(body);
    if (data && typeof data.message === 'string' && data.message.trim()) {
      return data.message;
    }
  } catch {
    // Not JSON: fall back to the status line below.
  }
  return `The server answered ${status}${statusText ? ' ' + statusText : ''}.`;
}

/** Typed calls of the plugin API for one server connection. */
export class PluginsClient {
  constructor(
    readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  /** `GET|POST|... /api/plugins/<path>` with an optional JSON body; resolves to the JSON. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = URLExt.join(this.settings.baseUrl, 'api', 'plugins', path);
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.settings);
    } catch (error) {
      throw new ApiError(
        'Could not reach the Jupyter server; check that it is still running.',
        0
      );
    }
    const text = await response.text();
    if (!response.ok) {
      throw new ApiError(
        errorMessage(response.status, response.statusText, text),
        response.status
      );
    }
    if (!text) {
      return {} as T;
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError('The server sent an answer that is not JSON.', response.status);
    }
  }

  async featured(): Promise<ICatalogEntry[]> {
    const answer = await this.request<{ results: ICatalogEntry[] }>(
      'GET',
      'marketplace/featured'
    );
    return answer.results ?? [];
  }

  async search(query: string): Promise<ICatalogEntry[]> {
    const answer = await this.request<{ results: ICatalogEntry[] }>(
      'POST',
      'marketplace/search',
      { query }
    );
    return answer.results ?? [];
  }

  installFromMarketplace(name: string, source?: string): Promise<IInstallResult> {
    // Remote results carry their marketplace's name; local ones install from the catalog.
    const body: Record<string, string> = { name };
    if (source && source !== 'local') {
      body.source = source;
    }
    return this.request<IInstallResult>('POST', 'marketplace/install', body);
  }

  async installed(): Promise<IInstalledPlugin[]> {
    const answer = await this.request<{ plugins: IInstalledPlugin[] }>('GET', 'list');
    return answer.plugins ?? [];
  }

  setEnabled(pluginId: string, enabled: boolean): Promise<unknown> {
    return this.request('POST', `${encodeURIComponent(pluginId)}/${enabled ? 'enable' : 'disable'}`);
  }

  /**
   * Make `target` the active version: an update when it is newer than the active one, else a
   * rollback (the server refuses the wrong verb with 409, so the order in `versions` decides).
   */
  switchVersion(plugin: IInstalledPlugin, target: string): Promise<unknown> {
    const id = encodeURIComponent(plugin.plugin_id);
    const newer =
      plugin.versions.indexOf(target) > plugin.versions.indexOf(plugin.active_version);
    return newer
      ? this.request('POST', `${id}/update`, { target_version: target })
      : this.request('POST', `${id}/rollback`, {
          target_version: target,
          reason: `Rolled back from ${plugin.active_version} in the JupyterLab panel`
        });
  }

  uninstall(pluginId: string): Promise<unknown> {
    return this.request('DELETE', encodeURIComponent(pluginId));
  }
}
