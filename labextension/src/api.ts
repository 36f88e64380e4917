/**
 * The REST client of the OmniScope plugin API (`/api/plugins/...`).
 *
 * Every call goes through `ServerConnection.makeRequest`, which adds the Jupyter token and the
 * XSRF header, so the panel is authenticated exactly like JupyterLab itself. A refused call
 * rejects with a `ServerConnection.ResponseError` whose `message` is the server's JSON
 * `message` (one sentence meant for the user); an unreachable server rejects with
 * `ServerConnection.NetworkError`, as every JupyterLab service does.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';

/** Rating of a catalog plugin: `average` is null until someone rates it. */
export interface IRating {
  average: number | null;
  count: number;
}

/**
 * A catalog entry as answered by marketplace search and featured
 * (`marketplace/catalog.py::entry_dict`; remote results have the same shape).
 */
export interface ICatalogEntry {
  name: string;
  latest_version: string;
  /** Published versions, oldest first. */
  versions?: string[];
  description?: string;
  author?: string;
  language?: string | null;
  category?: string | null;
  rating?: IRating;
  downloads?: number;
  /** `local`, or the name of the remote marketplace the entry comes from. */
  source?: string;
  installed?: boolean;
  /** The version active here, when installed. */
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

/** The part of an install answer the panel uses. */
export interface IInstallResult {
  plugin_id: string;
  name?: string;
  version: string;
  enabled?: boolean;
}

/** The answer of `update` and `rollback`. */
export interface IVersionSwitch {
  plugin_id: string;
  previous_version?: string;
  active_version: string;
}

/** `GET {id}/readme`: the README as text and as HTML the server rendered and sanitised. */
export interface IReadme {
  plugin_id: string;
  version: string;
  readme: string | null;
  html: string | null;
}

/** One finding of a scan report. */
export interface IFinding {
  rule_id: string;
  severity: string;
  confidence: string;
  file: string;
  line: number;
  message: string;
  fix_hint?: string;
}

/** `GET {id}/scan`: the scan report of a version. */
export interface IScanReport {
  plugin_id: string;
  version: string;
  report: {
    passed?: boolean;
    counts?: Record<string, number>;
    findings?: IFinding[];
    scanners?: string[];
    scanned_at?: string;
  } | null;
}

/** One review of `GET {id}/reviews` (`rating`: its author's current rating). */
export interface IReview {
  id: number;
  user: string;
  text: string;
  rating?: number | null;
  version?: string | null;
  at?: string;
}

/** `GET {id}/reviews`: the newest reviews and the plugin's rating. */
export interface IReviews {
  reviews: IReview[];
  total?: number;
  rating?: IRating | null;
}

/** A row of `GET {id}/executions`; `GET {id}/executions/{eid}` adds the result fields. */
export interface IExecution {
  execution_id: string;
  plugin_id: string;
  version: string;
  status: string;
  duration_ms?: number | null;
  started_at?: string | null;
  finished_at?: string | null;
  user?: string;
  logs?: string[];
  warnings?: string[];
  errors?: string[];
  stdout?: string;
  stderr?: string;
}

/**
 * What the model needs from the server; `PluginsClient` is the real one, unit tests pass a
 * double.
 */
export interface IPluginsClient {
  featured(): Promise<ICatalogEntry[]>;
  search(query: string): Promise<ICatalogEntry[]>;
  installed(): Promise<IInstalledPlugin[]>;
  installFromMarketplace(
    name: string,
    source?: string,
    version?: string
  ): Promise<IInstallResult>;
  setEnabled(pluginId: string, enabled: boolean): Promise<unknown>;
  update(pluginId: string, targetVersion?: string): Promise<IVersionSwitch>;
  rollback(pluginId: string, targetVersion: string, reason: string): Promise<IVersionSwitch>;
  uninstall(pluginId: string): Promise<unknown>;
}

/** What the details section needs from the server (`PluginsClient` is the real one). */
export interface IDetailsClient {
  readme(pluginId: string): Promise<IReadme>;
  scanReport(pluginId: string): Promise<IScanReport>;
  reviews(pluginId: string): Promise<IReviews>;
  addReview(pluginId: string, text: string, rating: number | null): Promise<unknown>;
  executions(pluginId: string): Promise<IExecution[]>;
  execution(pluginId: string, executionId: string): Promise<IExecution>;
}

/**
 * The server's JSON `message` of an error answer, or null when the body is not one.
 *
 * jupyter_server answers every API error as `{"message", "reason"}`; a proxy or a crashed
 * server may answer anything else.
 */
export function serverMessage(body: string): string | null {
  try {
    const data = JSON.parse(body);
    if (data && typeof data.message === 'string' && data.message.trim()) {
      return data.message;
    }
  } catch {
    // Not JSON.
  }
  return null;
}

/** Typed calls of the plugin API for one server connection. */
export class PluginsClient implements IPluginsClient, IDetailsClient {
  constructor(options: PluginsClient.IOptions = {}) {
    this.serverSettings = options.serverSettings ?? ServerConnection.makeSettings();
    this._trans = (options.translator ?? nullTranslator).load('omniscope_jupyter');
  }

  readonly serverSettings: ServerConnection.ISettings;

  /**
   * `GET|POST|... /api/plugins/<path>` with an optional JSON body; resolves to the JSON.
   *
   * @throws ServerConnection.ResponseError on a non-2xx answer (or one that is not JSON).
   * @throws ServerConnection.NetworkError when the server cannot be reached.
   */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = URLExt.join(this.serverSettings.baseUrl, 'api', 'plugins', path);
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    const response = await ServerConnection.makeRequest(url, init, this.serverSettings);
    const text = await response.text();
    if (!response.ok) {
      const message =
        serverMessage(text) ??
        this._trans.__('The server answered %1 %2.', response.status, response.statusText);
      throw new ServerConnection.ResponseError(response, message.trim());
    }
    if (!text) {
      return {} as T;
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ServerConnection.ResponseError(
        response,
        this._trans.__('The server sent an answer that is not JSON.')
      );
    }
  }

  /** `GET marketplace/featured`. */
  async featured(): Promise<ICatalogEntry[]> {
    const answer = await this.request<{ results?: ICatalogEntry[] }>(
      'GET',
      'marketplace/featured'
    );
    return answer.results ?? [];
  }

  /** `POST marketplace/search {"query"}` (local catalog and remote marketplaces). */
  async search(query: string): Promise<ICatalogEntry[]> {
    const answer = await this.request<{ results?: ICatalogEntry[] }>(
      'POST',
      'marketplace/search',
      { query }
    );
    return answer.results ?? [];
  }

  /** `GET list`: the installed plugins. */
  async installed(): Promise<IInstalledPlugin[]> {
    const answer = await this.request<{ plugins?: IInstalledPlugin[] }>('GET', 'list');
    return answer.plugins ?? [];
  }

  /**
   * `POST marketplace/install {"name", "version"?, "source"?}`; a local entry installs from
   * this server's catalog, a remote one names its marketplace.
   */
  installFromMarketplace(
    name: string,
    source?: string,
    version?: string
  ): Promise<IInstallResult> {
    const body: Record<string, string> = { name };
    if (version) {
      body.version = version;
    }
    if (source && source !== 'local') {
      body.source = source;
    }
    return this.request<IInstallResult>('POST', 'marketplace/install', body);
  }

  /** `POST {id}/enable` or `POST {id}/disable`. */
  setEnabled(pluginId: string, enabled: boolean): Promise<unknown> {
    const verb = enabled ? 'enable' : 'disable';
    return this.request('POST', `${encodeURIComponent(pluginId)}/${verb}`);
  }

  /**
   * `POST {id}/update`: without a target the server switches to the newest version, installed
   * or published in its catalog (fetching it first).
   */
  update(pluginId: string, targetVersion?: string): Promise<IVersionSwitch> {
    const body = targetVersion ? { target_version: targetVersion } : {};
    return this.request<IVersionSwitch>('POST', `${encodeURIComponent(pluginId)}/update`, body);
  }

  /** `POST {id}/rollback {"target_version", "reason"}`. */
  rollback(pluginId: string, targetVersion: string, reason: string): Promise<IVersionSwitch> {
    return this.request<IVersionSwitch>('POST', `${encodeURIComponent(pluginId)}/rollback`, {
      target_version: targetVersion,
      reason
    });
  }

  /** `DELETE {id}`: every installed version and the history. */
  uninstall(pluginId: string): Promise<unknown> {
    return this.request('DELETE', encodeURIComponent(pluginId));
  }

  /** `GET {id}/readme` (of the active version). */
  readme(pluginId: string): Promise<IReadme> {
    return this.request<IReadme>('GET', `${encodeURIComponent(pluginId)}/readme`);
  }

  /** `GET {id}/scan` (of the active version). */
  scanReport(pluginId: string): Promise<IScanReport> {
    return this.request<IScanReport>('GET', `${encodeURIComponent(pluginId)}/scan`);
  }

  /** `GET {id}/reviews`: the newest page and the plugin's rating. */
  async reviews(pluginId: string): Promise<IReviews> {
    const answer = await this.request<Partial<IReviews>>(
      'GET',
      `${encodeURIComponent(pluginId)}/reviews`
    );
    return { ...answer, reviews: answer.reviews ?? [] };
  }

  /** `POST {id}/review {"text", "rating"?}`. */
  addReview(pluginId: string, text: string, rating: number | null): Promise<unknown> {
    const body: Record<string, unknown> = { text };
    if (rating !== null) {
      body.rating = rating;
    }
    return this.request('POST', `${encodeURIComponent(pluginId)}/review`, body);
  }

  /** `GET {id}/executions`: the newest 20 runs. */
  async executions(pluginId: string): Promise<IExecution[]> {
    const answer = await this.request<{ executions?: IExecution[] }>(
      'GET',
      `${encodeURIComponent(pluginId)}/executions?page_size=20`
    );
    return answer.executions ?? [];
  }

  /** `GET {id}/executions/{eid}`: one run with its logs, errors and output. */
  execution(pluginId: string, executionId: string): Promise<IExecution> {
    return this.request<IExecution>(
      'GET',
      `${encodeURIComponent(pluginId)}/executions/${encodeURIComponent(executionId)}`
    );
  }

  private readonly _trans: TranslationBundle;
}

export namespace PluginsClient {
  export interface IOptions {
    /** Defaults to the page's settings (`ServerConnection.makeSettings()`). */
    serverSettings?: ServerConnection.ISettings;
    /** Translates the few messages the client makes itself. */
    translator?: ITranslator | null;
  }
}
