/**
 * The Marketplace section: featured plugins on open, full-text search as you type (or on
 * Enter), install (then enable) in one click, and an update when the catalog has a newer
 * version than the one active here.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { Button, InputGroup, searchIcon, VDomRenderer } from '@jupyterlab/ui-components';
import * as React from 'react';

import { ICatalogEntry } from './api';
import { PluginsModel } from './model';
import { Empty, LoadError, Loading } from './states';

/** How long typing pauses before the search is sent. */
const SEARCH_DELAY_MS = 400;

/** "★ 4.5 (12 ratings)", or a plain note before the first rating. */
export function formatRating(entry: ICatalogEntry, trans: TranslationBundle): string {
  const rating = entry.rating;
  if (!rating || !rating.count || rating.average === null) {
    return trans.__('No ratings yet');
  }
  return trans._n(
    '★ %2 (%1 rating)',
    '★ %2 (%1 ratings)',
    rating.count,
    rating.average.toFixed(1)
  );
}

export class MarketplaceView extends VDomRenderer<PluginsModel> {
  constructor(model: PluginsModel, trans: TranslationBundle) {
    super(model);
    this._trans = trans;
    this.addClass('jp-OmniscopePlugins-view');
    this.addClass('jp-OmniscopePlugins-marketplaceView');
    this.node.dataset.testid = 'marketplace-view';
  }

  protected render(): JSX.Element {
    const model = this.model;
    const trans = this._trans;
    return (
      <>
        <SearchBox
          trans={trans}
          initial={model.query}
          onSearch={query => void model.search(query)}
        />
        <div className="jp-OmniscopePlugins-scroll" aria-busy={model.isLoading}>
          {this._content()}
        </div>
      </>
    );
  }

  private _content(): JSX.Element {
    const model = this.model;
    const trans = this._trans;
    const query = model.resultsQuery;
    if (model.searchError !== null) {
      return (
        <LoadError
          title={
            query
              ? trans.__('Could not search the marketplace.')
              : trans.__('Could not load the featured plugins.')
          }
          message={model.searchError}
          onRetry={() => void model.search(model.query)}
          trans={trans}
        />
      );
    }
    const results = model.results;
    if (results === null) {
      return <Loading text={trans.__('Loading the marketplace…')} />;
    }
    return (
      <>
        <h3 className="jp-OmniscopePlugins-heading" data-testid="results-heading">
          {query ? trans.__('Results for “%1”', query) : trans.__('Featured')}
        </h3>
        {results.length ? (
          <ul className="jp-OmniscopePlugins-list" aria-label={trans.__('Marketplace plugins')}>
            {results.map(entry => (
              <CatalogItem
                key={`${entry.source ?? 'local'}:${entry.name}`}
                entry={entry}
                model={model}
                trans={trans}
              />
            ))}
          </ul>
        ) : (
          <Empty
            text={
              query
                ? trans.__('No plugin matches “%1”.', query)
                : trans.__('No plugin is published yet.')
            }
          />
        )}
      </>
    );
  }

  private readonly _trans: TranslationBundle;
}

/**
 * The search field: JupyterLab's `InputGroup` with the search icon, at the size of the
 * extension manager's. What is typed stays local until it is sent, so the model (and every
 * view) re-renders per search, not per keystroke.
 */
function SearchBox(props: {
  trans: TranslationBundle;
  initial: string;
  onSearch: (query: string) => void;
}): JSX.Element {
  const { trans, onSearch } = props;
  const [value, setValue] = React.useState(props.initial);
  const timer = React.useRef<number | null>(null);
  const inputId = React.useId();
  const cancel = () => {
    if (timer.current !== null) {
      window.clearTimeout(timer.current);
      timer.current = null;
    }
  };
  React.useEffect(() => cancel, []);
  return (
    <form
      className="jp-OmniscopePlugins-search"
      role="search"
      onSubmit={event => {
        event.preventDefault();
        cancel();
        onSearch(value);
      }}
    >
      <label className="jp-sr-only" htmlFor={inputId}>
        {trans.__('Search the plugin marketplace')}
      </label>
      <InputGroup
        id={inputId}
        className="jp-OmniscopePlugins-searchField"
        data-testid="marketplace-search"
        type="text"
        autoComplete="off"
        spellCheck={false}
        placeholder={trans.__('Search plugins')}
        value={value}
        rightIcon={searchIcon}
        onChange={event => {
          const query = event.currentTarget.value;
          setValue(query);
          cancel();
          timer.current = window.setTimeout(() => {
            timer.current = null;
            onSearch(query);
          }, SEARCH_DELAY_MS);
        }}
      />
    </form>
  );
}

function CatalogItem(props: {
  entry: ICatalogEntry;
  model: PluginsModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { entry, model, trans } = props;
  const pending = model.pendingAction(entry.name);
  const update = model.availableUpdate(entry);
  const remote = entry.source && entry.source !== 'local' ? entry.source : null;
  let action: JSX.Element;
  if (!entry.installed) {
    action = (
      <Button
        minimal
        small
        className="jp-OmniscopePlugins-install"
        data-testid="install"
        disabled={pending !== null}
        aria-label={trans.__('Install %1', entry.name)}
        onClick={() => void model.install(entry)}
      >
        {pending === 'install' ? trans.__('Installing…') : trans.__('Install')}
      </Button>
    );
  } else {
    action = (
      <>
        <span className="jp-OmniscopePlugins-installed" data-testid="installed-version">
          {trans.__('Installed %1', entry.installed_version ?? '').trim()}
        </span>
        {update && (
          <Button
            minimal
            small
            className="jp-OmniscopePlugins-update"
            data-testid="update"
            disabled={pending !== null}
            title={trans.__('Update available: %1 %2', entry.name, update)}
            onClick={() => void model.update(entry.name)}
          >
            {pending === 'update' ? trans.__('Updating…') : trans.__('Update to %1', update)}
          </Button>
        )}
      </>
    );
  }
  return (
    <li
      className="jp-OmniscopePlugins-item"
      data-testid="catalog-plugin"
      data-plugin={entry.name}
      data-source={entry.source ?? 'local'}
      aria-busy={pending !== null}
    >
      <div className="jp-OmniscopePlugins-title">
        <span className="jp-OmniscopePlugins-name">{entry.name}</span>
        <span className="jp-OmniscopePlugins-version">{entry.latest_version}</span>
        {update && (
          <span className="jp-OmniscopePlugins-badge">{trans.__('Update available')}</span>
        )}
      </div>
      {entry.description && (
        <p className="jp-OmniscopePlugins-description">{entry.description}</p>
      )}
      <div className="jp-OmniscopePlugins-meta">
        <span className="jp-OmniscopePlugins-rating">{formatRating(entry, trans)}</span>
        {entry.author && <span>{trans.__('by %1', entry.author)}</span>}
        {remote && <span>{trans.__('from %1', remote)}</span>}
      </div>
      <div className="jp-OmniscopePlugins-actions">{action}</div>
    </li>
  );
}
