/**
 * The Installed tab: every installed plugin with an enable switch, a version picker that
 * updates or rolls back, and uninstall (after a confirmation).
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';

import { IInstalledPlugin, PluginsClient } from './api';
import { h, replaceChildren } from './dom';
import { Feedback } from './feedback';

export class InstalledView {
  readonly node: HTMLElement;
  private readonly list: HTMLElement;
  private requests = 0;

  constructor(
    private readonly client: PluginsClient,
    private readonly feedback: Feedback
  ) {
    const reload = h(
      'button',
      { type: 'button', class: 'jp-OmniscopePlugins-reload jp-mod-styled' },
      'Refresh'
    );
    reload.addEventListener('click', () => void this.refresh());
    this.list = h('ul', { class: 'jp-OmniscopePlugins-list', 'aria-label': 'Installed plugins' });
    this.node = h(
      'div',
      { class: 'jp-OmniscopePlugins-installedView' },
      h('div', { class: 'jp-OmniscopePlugins-toolbar' }, reload),
      this.list
    );
  }

  /** Reload the list, clearing the status line first (the Refresh button, opening the tab). */
  async refresh(): Promise<void> {
    await this.feedback.run([], () => this.load());
  }

  /** Reload the list and keep the status line unless the reload fails (after another action). */
  async reload(): Promise<boolean> {
    try {
      await this.load();
      return true;
    } catch (error) {
      this.feedback.error(error);
      return false;
    }
  }

  private async load(): Promise<void> {
    const request = ++this.requests;
    const plugins = await this.client.installed();
    if (request !== this.requests) {
      return; // A newer reload was sent meanwhile: its answer is the one to show.
    }
    if (!plugins.length) {
      replaceChildren(this.list, [
        h('li', { class: 'jp-OmniscopePlugins-empty' }, 'No plugin is installed yet.')
      ]);
      return;
    }
    replaceChildren(
      this.list,
      plugins.map(plugin => this.item(plugin))
    );
  }

  /**
   * Run a change, then show the server's state (the truth, also after a refusal: a switch the
   * server refused must not stay shown as done) while keeping the outcome in the status line.
   */
  private async change(
    controls: (HTMLButtonElement | HTMLInputElement | HTMLSelectElement)[],
    action: () => Promise<unknown>,
    done: string
  ): Promise<void> {
    const ok = await this.feedback.run(controls, async () => {
      await action();
    });
    const shown = await this.reload();
    if (ok && shown) {
      this.feedback.info(done);
    }
  }

  private item(plugin: IInstalledPlugin): HTMLElement {
    const id = plugin.plugin_id;
    const toggle = h('input', {
      type: 'checkbox',
      class: 'jp-OmniscopePlugins-enabled',
      'aria-label': `Enable ${id}`
    });
    toggle.checked = plugin.enabled;
    toggle.addEventListener('change', () => {
      const enable = toggle.checked;
      void this.change(
        [toggle],
        () => this.client.setEnabled(id, enable),
        `${enable ? 'Enabled' : 'Disabled'} ${id}.`
      );
    });

    const select = h('select', {
      class: 'jp-OmniscopePlugins-versions',
      'aria-label': `Version of ${id}`
    });
    // Newest first: the usual pick is an update.
    for (const version of [...plugin.versions].reverse()) {
      const option = h('option', { value: version }, version);
      option.selected = version === plugin.active_version;
      select.append(option);
    }
    select.addEventListener('change', () => {
      const target = select.value;
      if (target === plugin.active_version) {
        return;
      }
      const newer =
        plugin.versions.indexOf(target) > plugin.versions.indexOf(plugin.active_version);
      void this.change(
        [select],
        () => this.client.switchVersion(plugin, target),
        `${newer ? 'Updated' : 'Rolled back'} ${id} to ${target}.`
      );
    });

    const remove = h(
      'button',
      { type: 'button', class: 'jp-OmniscopePlugins-uninstall jp-mod-styled jp-mod-warn' },
      'Uninstall'
    );
    remove.addEventListener('click', async () => {
      const answer = await showDialog({
        title: `Uninstall ${id}?`,
        body: `This removes ${id} with all its installed versions and its history.`,
        buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Uninstall' })]
      });
      if (answer.button.accept) {
        await this.change([remove], () => this.client.uninstall(id), `Uninstalled ${id}.`);
      }
    });

    return h(
      'li',
      {
        class: 'jp-OmniscopePlugins-item',
        'data-plugin': id,
        'data-enabled': String(plugin.enabled)
      },
      h(
        'div',
        { class: 'jp-OmniscopePlugins-title' },
        h('span', { class: 'jp-OmniscopePlugins-name' }, plugin.name),
        h('span', { class: 'jp-OmniscopePlugins-version' }, plugin.active_version)
      ),
      h('p', { class: 'jp-OmniscopePlugins-description' }, plugin.description ?? ''),
      h(
        'div',
        { class: 'jp-OmniscopePlugins-actions' },
        h('label', { class: 'jp-OmniscopePlugins-toggle' }, toggle, 'Enabled'),
        h('label', { class: 'jp-OmniscopePlugins-toggle' }, 'Version', select),
        remove
      )
    );
  }
}
