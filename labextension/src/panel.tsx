/**
 * The side panel: JupyterLab's `SidePanel` with a title, a toolbar (refresh), the status line
 * of the last action, and three accordion sections: Installed and Marketplace over one model,
 * Details (one plugin's README, scan report, reviews and runs) over its own.
 */
import { ITranslator, nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import {
  Button,
  closeIcon,
  refreshIcon,
  ReactWidget,
  SidePanel,
  ToolbarButton,
  VDomRenderer
} from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { AccordionPanel, PanelLayout } from '@lumino/widgets';
import * as React from 'react';

import { DetailsModel } from './details';
import { DetailsView } from './detailsView';
import { InstalledView } from './installed';
import { MarketplaceView } from './marketplace';
import { PluginsModel } from './model';

/** The status line: the outcome of the last action (a refusal shows the server's message). */
class StatusView extends VDomRenderer<PluginsModel> {
  constructor(model: PluginsModel, trans: TranslationBundle) {
    super(model);
    this._trans = trans;
    this.addClass('jp-OmniscopePlugins-status');
    this.node.dataset.testid = 'status';
    // A live region must exist before its text changes for screen readers to announce it.
    this.node.setAttribute('aria-live', 'polite');
  }

  protected render(): JSX.Element | null {
    const status = this.model.status;
    // The widget's own node is the live region: its role and look follow the status, and it
    // takes no room while there is none.
    this.node.classList.toggle('jp-mod-info', status?.kind === 'info');
    this.node.classList.toggle('jp-mod-error', status?.kind === 'error');
    this.node.setAttribute('role', status?.kind === 'error' ? 'alert' : 'status');
    if (!status) {
      return null;
    }
    return (
      <>
        <span className="jp-OmniscopePlugins-statusText">{status.text}</span>
        <Button
          minimal
          small
          className="jp-OmniscopePlugins-dismiss"
          title={this._trans.__('Dismiss')}
          aria-label={this._trans.__('Dismiss')}
          onClick={() => this.model.dismissStatus()}
        >
          <closeIcon.react tag="span" elementPosition="center" />
        </Button>
      </>
    );
  }

  private readonly _trans: TranslationBundle;
}

export class PluginsPanel extends SidePanel {
  constructor(options: PluginsPanel.IOptions) {
    const translator = options.translator ?? nullTranslator;
    super({ translator });
    const trans = translator.load('omniscope_jupyter');
    const model = (this.model = options.model);
    const details = (this.details = options.details);
    this.id = 'omniscope-plugins';
    this.addClass('jp-OmniscopePlugins');
    this.title.caption = trans.__('OmniScope plugins');

    this.header.addWidget(
      ReactWidget.create(
        <h2 className="jp-OmniscopePlugins-header">{trans.__('OmniScope plugins')}</h2>
      )
    );
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        className: 'jp-OmniscopePlugins-refresh',
        tooltip: trans.__('Refresh the installed plugins and the marketplace'),
        onClick: () => {
          void model.refresh();
          void details.refresh();
        }
      })
    );
    // The status line sits between the toolbar and the sections, shared by both.
    const layout = this.layout as PanelLayout;
    layout.insertWidget(layout.widgets.indexOf(this.content), new StatusView(model, trans));

    const installed = new InstalledView(model, trans, id => void this.showDetails(id));
    installed.title.label = trans.__('Installed');
    const marketplace = new MarketplaceView(model, trans);
    marketplace.title.label = trans.__('Marketplace');
    const detailsView = new DetailsView(details, trans);
    detailsView.title.label = trans.__('Details');
    this.addWidget(installed);
    this.addWidget(marketplace);
    this.addWidget(detailsView);
    // The marketplace list is usually the longer one.
    (this.content as AccordionPanel).setRelativeSizes([2, 3, 3]);
  }

  readonly model: PluginsModel;
  readonly details: DetailsModel;

  /** Show a plugin in the Details section, opened and given most of the panel's height. */
  async showDetails(pluginId: string): Promise<void> {
    this.openDetails();
    (this.content as AccordionPanel).setRelativeSizes([1, 1, 4]);
    await this.details.show(pluginId);
  }

  /** Open the Details section (the command palette's "Plugin details and runs"). */
  openDetails(): void {
    const accordion = this.content as AccordionPanel;
    const index = accordion.widgets.findIndex(w => w instanceof DetailsView);
    if (index >= 0 && accordion.widgets[index].isHidden) {
      accordion.expand(index);
    }
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    // Load lazily: nothing is fetched until the user opens the panel the first time.
    if (!this._loaded) {
      this._loaded = true;
      void this.model.refresh();
    }
  }

  private _loaded = false;
}

export namespace PluginsPanel {
  export interface IOptions {
    model: PluginsModel;
    details: DetailsModel;
    translator?: ITranslator | null;
  }
}
