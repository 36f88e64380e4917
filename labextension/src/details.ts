/**
 * The model of the Details section: one installed plugin at a time, its README (rendered and
 * sanitised by the server), the scan report of its active version, its rating and reviews,
 * and its execution history with one execution opened (status, duration, logs, errors,
 * output). Each part loads on its own, so one that fails shows its error beside the others.
 */
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { VDomModel } from '@jupyterlab/ui-components';

import { IDetailsClient, IExecution, IReadme, IReviews, IScanReport } from './api';

/** One part of the details: its value once loaded, or why it could not be. */
export interface IPart<T> {
  value: T | null;
  error: string | null;
  loading: boolean;
}

function emptyPart<T>(): IPart<T> {
  return { value: null, error: null, loading: false };
}

export class DetailsModel extends VDomModel {
  constructor(options: DetailsModel.IOptions) {
    super();
    this._client = options.client;
    this._messageOf = options.messageOf;
    this._trans = (options.translator ?? nullTranslator).load('omniscope_jupyter');
  }

  /** The plugin shown, or null before one is picked. */
  get pluginId(): string | null {
    return this._pluginId;
  }

  get readme(): IPart<IReadme> {
    return this._parts.readme;
  }

  get scan(): IPart<IScanReport> {
    return this._parts.scan;
  }

  get reviews(): IPart<IReviews> {
    return this._parts.reviews;
  }

  get executions(): IPart<IExecution[]> {
    return this._parts.executions;
  }

  /** The execution opened from the history (with its logs and output). */
  get execution(): IPart<IExecution> {
    return this._parts.execution;
  }

  /** The outcome of the last review sent, or null. */
  get reviewStatus(): { kind: 'info' | 'error'; text: string } | null {
    return this._reviewStatus;
  }

  /** Show `pluginId` (every part reloads). */
  async show(pluginId: string): Promise<void> {
    this._pluginId = pluginId;
    this._parts.execution = emptyPart();
    this._reviewStatus = null;
    await this.refresh();
  }

  /** Reload every part of the plugin shown. */
  async refresh(): Promise<void> {
    const id = this._pluginId;
    if (id === null) {
      return;
    }
    await Promise.all([
      this._load(id, 'readme', () => this._client.readme(id)),
      this._load(id, 'scan', () => this._client.scanReport(id)),
      this._load(id, 'reviews', () => this._client.reviews(id)),
      this._load(id, 'executions', () => this._client.executions(id))
    ]);
  }

  /** Open one execution of the history. */
  async openExecution(executionId: string): Promise<void> {
    const id = this._pluginId;
    if (id !== null) {
      await this._load(id, 'execution', () => this._client.execution(id, executionId));
    }
  }

  /** Send a review (text, and a rating from 1 to 5 or none), then reload the reviews. */
  async addReview(text: string, rating: number | null): Promise<boolean> {
    const id = this._pluginId;
    if (id === null) {
      return false;
    }
    let ok = false;
    try {
      await this._client.addReview(id, text, rating);
      this._reviewStatus = { kind: 'info', text: this._trans.__('Thank you: your review is saved.') };
      ok = true;
    } catch (error) {
      this._reviewStatus = { kind: 'error', text: this._messageOf(error) };
    }
    this._changed();
    await this._load(id, 'reviews', () => this._client.reviews(id));
    return ok;
  }

  /** Load one part; an answer for a plugin no longer shown is dropped. */
  private async _load<K extends DetailsModel.PartName>(
    pluginId: string,
    name: K,
    fetch: () => Promise<DetailsModel.Parts[K]>
  ): Promise<void> {
    const request = ++this._requests[name];
    this._set(name, { ...this._parts[name], loading: true, error: null });
    try {
      const value = await fetch();
      if (this._current(pluginId, name, request)) {
        this._set(name, { value, error: null, loading: false });
      }
    } catch (error) {
      if (this._current(pluginId, name, request)) {
        this._set(name, { value: null, error: this._messageOf(error), loading: false });
      }
    }
  }

  private _current(pluginId: string, name: DetailsModel.PartName, request: number): boolean {
    return pluginId === this._pluginId && request === this._requests[name];
  }

  private _set<K extends DetailsModel.PartName>(
    name: K,
    part: IPart<DetailsModel.Parts[K]>
  ): void {
    (this._parts as Record<DetailsModel.PartName, IPart<unknown>>)[name] = part;
    this._changed();
  }

  private _changed(): void {
    if (!this.isDisposed) {
      this.stateChanged.emit();
    }
  }

  private readonly _client: IDetailsClient;
  private readonly _messageOf: (error: unknown) => string;
  private readonly _trans: TranslationBundle;
  private _pluginId: string | null = null;
  private readonly _parts: { [K in DetailsModel.PartName]: IPart<DetailsModel.Parts[K]> } = {
    readme: emptyPart(),
    scan: emptyPart(),
    reviews: emptyPart(),
    executions: emptyPart(),
    execution: emptyPart()
  };
  private _reviewStatus: { kind: 'info' | 'error'; text: string } | null = null;
  private readonly _requests: Record<DetailsModel.PartName, number> = {
    readme: 0,
    scan: 0,
    reviews: 0,
    executions: 0,
    execution: 0
  };
}

export namespace DetailsModel {
  export interface IOptions {
    client: IDetailsClient;
    /** The sentence for a failure (the plugins model's: the server's own message). */
    messageOf: (error: unknown) => string;
    translator?: ITranslator | null;
  }

  /** What each part holds once loaded. */
  export interface Parts {
    readme: IReadme;
    scan: IScanReport;
    reviews: IReviews;
    executions: IExecution[];
    execution: IExecution;
  }

  export type PartName = keyof Parts;
}
