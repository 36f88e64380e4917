/**
 * The side panel: two tabs (Marketplace, Installed) over one status line.
 */
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { PluginsClient } from './api';
import { h } from './dom';
import { Feedback } from './feedback';
import { InstalledView } from './installed';
import { MarketplaceView } from './marketplace';

type TabName = 'marketplace' | 'installed';

export class PluginsPanel extends Widget {
  private readonly feedback = new Feedback();
  private readonly marketplace: MarketplaceView;
  private readonly installed: InstalledView;
  private readonly tabs: Record<TabName, HTMLButtonElement>;
  private current: TabName = 'marketplace';
  private loaded = false;

  constructor(client: PluginsClient = new PluginsClient()) {
    super();
    this.id = 'omniscope-plugins';
    this.addClass('jp-OmniscopePlugins');
    this.title.caption = 'OmniScope plugins';

    this.installed = new InstalledView(client, this.feedback);
    this.marketplace = new MarketplaceView(client, this.feedback, () => {
      void this.installed.reload();
    });
    this.tabs = {
      marketplace: this.tab('marketplace', 'Marketplace'),
      installed: this.tab('installed', 'Installed')
    };
    this.node.append(
      h('h2', { class: 'jp-OmniscopePlugins-header' }, 'OmniScope plugins'),
      h(
        'div',
        { class: 'jp-OmniscopePlugins-tabs', role: 'tablist' },
        this.tabs.marketplace,
        this.tabs.installed
      ),
      this.feedback.node,
      h(
        'div',
        { class: 'jp-OmniscopePlugins-body' },
        this.marketplace.node,
        this.installed.node
      )
    );
    this.show_('marketplace');
  }

  /** Show a tab and reload what it lists (the store may have changed from the CLI or REST). */
  select(name: TabName): Promise<void> {
    this.show_(name);
    return name === 'marketplace' ? this.marketplace.refresh() : this.installed.refresh();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    // Load lazily: nothing is fetched until the user opens the panel.
    if (!this.loaded) {
      this.loaded = true;
      void this.select(this.current);
    }
  }

  private tab(name: TabName, label: string): HTMLButtonElement {
    const button = h(
      'button',
      { type: 'button', role: 'tab', class: 'jp-OmniscopePlugins-tab', 'data-tab': name },
      label
    );
    button.addEventListener('click', () => void this.select(name));
    return button;
  }

  private show_(name: TabName): void {
    this.current = name;
    for (const [tab, button] of Object.entries(this.tabs) as [TabName, HTMLButtonElement][]) {
      const active = tab === name;
      button.classList.toggle('jp-mod-active', active);
      button.setAttribute('aria-selected', String(active));
    }
    this.marketplace.node.hidden = name !== 'marketplace';
    this.installed.node.hidden = name !== 'installed';
  }
}
