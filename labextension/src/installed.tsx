/**
 * The Installed section: every installed plugin with an enable switch, a version picker that
 * updates or rolls back, an update to the catalog's newest version when there is one, and
 * uninstall (after a confirmation).
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Button, HTMLSelect, VDomRenderer } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IInstalledPlugin } from './api';
import { PluginsModel } from './model';
import { compareVersions } from './versions';
import { Empty, LoadError, Loading } from './states';

export class InstalledView extends VDomRenderer<PluginsModel> {
  /** `onDetails`: show a plugin in the Details section (its Details button). */
  constructor(
    model: PluginsModel,
    trans: TranslationBundle,
    onDetails: (pluginId: string) => void = () => undefined
  ) {
    super(model);
    this._trans = trans;
    this._onDetails = onDetails;
    this.addClass('jp-OmniscopePlugins-view');
    this.addClass('jp-OmniscopePlugins-installedView');
    this.node.dataset.testid = 'installed-view';
  }

  protected render(): JSX.Element {
    const model = this.model;
    const trans = this._trans;
    const plugins = model.installed;
    let content: JSX.Element;
    if (model.installedError !== null) {
      content = (
        <LoadError
          title={trans.__('Could not load the installed plugins.')}
          message={model.installedError}
          onRetry={() => void model.refreshInstalled()}
          trans={trans}
        />
      );
    } else if (plugins === null) {
      content = <Loading text={trans.__('Loading the installed plugins…')} />;
    } else if (!plugins.length) {
      content = (
        <Empty
          text={trans.__(
            'No plugin is installed yet. Install one from the marketplace below.'
          )}
        />
      );
    } else {
      content = (
        <ul className="jp-OmniscopePlugins-list" aria-label={trans.__('Installed plugins')}>
          {plugins.map(plugin => (
            <InstalledItem
              key={plugin.plugin_id}
              plugin={plugin}
              model={model}
              trans={trans}
              onUninstall={() => void this._uninstall(plugin)}
              onDetails={() => this._onDetails(plugin.plugin_id)}
            />
          ))}
        </ul>
      );
    }
    return (
      <div className="jp-OmniscopePlugins-scroll" aria-busy={model.isLoading}>
        {content}
      </div>
    );
  }

  private async _uninstall(plugin: IInstalledPlugin): Promise<void> {
    const trans = this._trans;
    const id = plugin.plugin_id;
    const answer = await showDialog({
      title: trans.__('Uninstall %1?', id),
      body: trans.__(
        'This removes %1 with all its installed versions and its history.',
        id
      ),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.warnButton({ label: trans.__('Uninstall') })
      ]
    });
    if (answer.button.accept) {
      await this.model.uninstall(plugin);
    }
  }

  private readonly _trans: TranslationBundle;
  private readonly _onDetails: (pluginId: string) => void;
}

function InstalledItem(props: {
  plugin: IInstalledPlugin;
  model: PluginsModel;
  trans: TranslationBundle;
  onUninstall: () => void;
  onDetails: () => void;
}): JSX.Element {
  const { plugin, model, trans } = props;
  const id = plugin.plugin_id;
  const pending = model.pendingAction(id);
  const busy = pending !== null;
  const update = model.updateFor(plugin);
  // Newest first: the usual pick is an update.
  const versions = [...plugin.versions].sort((a, b) => compareVersions(b, a));
  return (
    <li
      className="jp-OmniscopePlugins-item"
      data-testid="installed-plugin"
      data-plugin={id}
      data-enabled={String(plugin.enabled)}
      aria-busy={busy}
    >
      <div className="jp-OmniscopePlugins-title">
        <span className="jp-OmniscopePlugins-name">{plugin.name}</span>
        <span className="jp-OmniscopePlugins-version">{plugin.active_version}</span>
      </div>
      {plugin.description && (
        <p className="jp-OmniscopePlugins-description">{plugin.description}</p>
      )}
      <div className="jp-OmniscopePlugins-actions">
        <label className="jp-OmniscopePlugins-toggle">
          <input
            type="checkbox"
            className="jp-OmniscopePlugins-enabled"
            checked={plugin.enabled}
            disabled={busy}
            aria-label={trans.__('Enable %1', id)}
            onChange={event => void model.setEnabled(plugin, event.currentTarget.checked)}
          />
          {trans.__('Enabled')}
        </label>
        <HTMLSelect
          className="jp-OmniscopePlugins-versions"
          aria-label={trans.__('Version of %1', id)}
          title={trans.__('Active version')}
          value={plugin.active_version}
          disabled={busy || versions.length < 2}
          options={versions}
          onChange={event => {
            const target = event.currentTarget.value;
            if (target !== plugin.active_version) {
              void model.switchVersion(plugin, target);
            }
          }}
        />
        {update && (
          <Button
            minimal
            small
            className="jp-OmniscopePlugins-update"
            data-testid="update"
            disabled={busy}
            title={trans.__('Update available: %1 %2 is in the marketplace', id, update)}
            onClick={() => void model.update(id)}
          >
            {pending === 'update'
              ? trans.__('Updating…')
              : trans.__('Update to %1', update)}
          </Button>
        )}
        <Button
          minimal
          small
          className="jp-OmniscopePlugins-details"
          data-testid="details"
          aria-label={trans.__('Details of %1', id)}
          onClick={props.onDetails}
        >
          {trans.__('Details')}
        </Button>
        <Button
          minimal
          small
          className="jp-OmniscopePlugins-uninstall"
          data-testid="uninstall"
          disabled={busy}
          aria-label={trans.__('Uninstall %1', id)}
          onClick={props.onUninstall}
        >
          {pending === 'uninstall' ? trans.__('Uninstalling…') : trans.__('Uninstall')}
        </Button>
      </div>
    </li>
  );
}
