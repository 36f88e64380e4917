/**
 * The states a list shows instead of its items: loading, empty, and a load that failed.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { Button } from '@jupyterlab/ui-components';
import * as React from 'react';

/** Shown until a list's first answer. */
export function Loading(props: { text: string }): JSX.Element {
  return (
    <div className="jp-OmniscopePlugins-loading" role="status" data-testid="loading">
      {props.text}
    </div>
  );
}

/** An empty list: one quiet sentence. */
export function Empty(props: { text: string }): JSX.Element {
  return (
    <div className="jp-OmniscopePlugins-empty" data-testid="empty">
      {props.text}
    </div>
  );
}

/** A list that could not be loaded: what failed, the server's message, and a retry. */
export function LoadError(props: {
  title: string;
  message: string;
  onRetry: () => void;
  trans: TranslationBundle;
}): JSX.Element {
  return (
    <div className="jp-OmniscopePlugins-loadError" role="alert" data-testid="load-error">
      <p className="jp-OmniscopePlugins-loadErrorTitle">{props.title}</p>
      <p className="jp-OmniscopePlugins-loadErrorMessage">{props.message}</p>
      <Button minimal small onClick={props.onRetry}>
        {props.trans.__('Retry')}
      </Button>
    </div>
  );
}
