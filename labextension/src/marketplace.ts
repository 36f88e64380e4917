/**
 * The Marketplace tab: featured plugins on open, full-text search, one-click install.
 */
import { ICatalogEntry, PluginsClient } from './api';
import { h, replaceChildren } from './dom';
import { Feedback } from './feedback';

/** "★ 4.5 (12 ratings)", or a plain note before the first rating. */
export function formatRating(entry: ICatalogEntry): string {
  const rating = entry.rating;
  if (!rating || !rating.count || rating.average === null) {
    return 'No ratings yet';
  }
  const plural = rating.count === 1 ? 'rating' : 'ratings';
  return `★ ${rating.average.toFixed(1)} (${rating.count} ${plural})`;
}

export class MarketplaceView {
  readonly node: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly searchButton: HTMLButtonElement;
  private readonly heading: HTMLElement;
  private readonly list: HTMLElement;
  private requests = 0;

  constructor(
    private readonly client: PluginsClient,
    private readonly feedback: Feedback,
    /** Called after an install, so the Installed tab shows it. */
    private readonly onInstalled: () => void
  ) {
    this.input = h('input', {
      type: 'search',
      class: 'jp-OmniscopePlugins-query jp-mod-styled',
      placeholder: 'Search plugins',
      'aria-label': 'Search the plugin marketplace'
    });
    this.searchButton = h(
      'button',
      { type: 'submit', class: 'jp-OmniscopePlugins-searchButton jp-mod-styled jp-mod-accept' },
      'Search'
    );
    const form = h('form', { class: 'jp-OmniscopePlugins-search' }, this.input, this.searchButton);
    form.addEventListener('submit', event => {
      event.preventDefault();
      void this.search();
    });
    this.heading = h('h3', { class: 'jp-OmniscopePlugins-heading' });
    this.list = h('ul', { class: 'jp-OmniscopePlugins-list', 'aria-label': 'Marketplace plugins' });
    this.node = h('div', { class: 'jp-OmniscopePlugins-marketplace' }, form, this.heading, this.list);
  }

  /** Featured plugins when the search box is empty, else the search results. */
  async refresh(): Promise<void> {
    const query = this.input.value.trim();
    const request = ++this.requests;
    await this.feedback.run([this.searchButton], async () => {
      const entries = query ? await this.client.search(query) : await this.client.featured();
      if (request !== this.requests) {
        return; // A newer search was sent meanwhile: its answer is the one to show.
      }
      this.heading.textContent = query ? `Results for “${query}”` : 'Featured';
      this.render(entries, query ? `No plugin matches “${query}”.` : 'No plugin is published yet.');
    });
  }

  search(): Promise<void> {
    return this.refresh();
  }

  private render(entries: ICatalogEntry[], empty: string): void {
    if (!entries.length) {
      replaceChildren(this.list, [h('li', { class: 'jp-OmniscopePlugins-empty' }, empty)]);
      return;
    }
    replaceChildren(
      this.list,
      entries.map(entry => this.item(entry))
    );
  }

  private item(entry: ICatalogEntry): HTMLElement {
    const action = h('div', { class: 'jp-OmniscopePlugins-actions' });
    const li = h(
      'li',
      { class: 'jp-OmniscopePlugins-item', 'data-plugin': entry.name },
      h(
        'div',
        { class: 'jp-OmniscopePlugins-title' },
        h('span', { class: 'jp-OmniscopePlugins-name' }, entry.name),
        h('span', { class: 'jp-OmniscopePlugins-version' }, entry.latest_version ?? '')
      ),
      h('p', { class: 'jp-OmniscopePlugins-description' }, entry.description ?? ''),
      h(
        'div',
        { class: 'jp-OmniscopePlugins-meta' },
        h('span', { class: 'jp-OmniscopePlugins-rating' }, formatRating(entry)),
        entry.author ? h('span', {}, `by ${entry.author}`) : null,
        entry.source && entry.source !== 'local' ? h('span', {}, `from ${entry.source}`) : null
      ),
      action
    );
    this.renderAction(action, entry);
    return li;
  }

  private renderAction(action: HTMLElement, entry: ICatalogEntry): void {
    if (entry.installed) {
      replaceChildren(action, [
        h(
          'span',
          { class: 'jp-OmniscopePlugins-installed' },
          `Installed ${entry.installed_version ?? ''}`.trim()
        )
      ]);
      return;
    }
    const button = h(
      'button',
      { type: 'button', class: 'jp-OmniscopePlugins-install jp-mod-styled jp-mod-accept' },
      'Install'
    );
    button.addEventListener('click', () => {
      void this.feedback.run([button], async () => {
        button.textContent = 'Installing…';
        try {
          const result = await this.client.installFromMarketplace(entry.name, entry.source);
          entry.installed = true;
          entry.installed_version = result.version;
          this.renderAction(action, entry);
          this.feedback.info(`Installed ${entry.name} ${result.version}.`);
          this.onInstalled();
        } finally {
          button.textContent = 'Install';
        }
      });
    });
    replaceChildren(action, [button]);
  }
}
