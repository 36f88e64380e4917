/**
 * The Details section: the plugin picked in the Installed section (its Details button), with
 * its README, the scan report of its active version, its rating and reviews (and a form to add
 * one), and its execution history, where opening a run shows its status, duration, errors,
 * logs and output. The README's HTML is the server's (`safe_html`: raw HTML escaped, the result
 * sanitised by an allowlist); nothing else is ever inserted as HTML.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { Button, HTMLSelect, VDomRenderer } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IExecution, IFinding } from './api';
import { DetailsModel, IPart } from './details';
import { Empty, LoadError, Loading } from './states';

export class DetailsView extends VDomRenderer<DetailsModel> {
  constructor(model: DetailsModel, trans: TranslationBundle) {
    super(model);
    this._trans = trans;
    this.addClass('jp-OmniscopePlugins-view');
    this.addClass('jp-OmniscopePlugins-detailsView');
    this.node.dataset.testid = 'details-view';
  }

  protected render(): JSX.Element {
    const model = this.model;
    const trans = this._trans;
    const id = model.pluginId;
    if (id === null) {
      return (
        <div className="jp-OmniscopePlugins-scroll">
          <Empty
            text={trans.__(
              'Pick an installed plugin (its Details button) to see its README, scan report, reviews and runs.'
            )}
          />
        </div>
      );
    }
    return (
      <div className="jp-OmniscopePlugins-scroll jp-OmniscopePlugins-details" data-plugin={id}>
        <div className="jp-OmniscopePlugins-title">
          <span className="jp-OmniscopePlugins-name">{id}</span>
          {model.readme.value && (
            <span className="jp-OmniscopePlugins-version">{model.readme.value.version}</span>
          )}
          <Button
            minimal
            small
            className="jp-OmniscopePlugins-detailsRefresh"
            onClick={() => void model.refresh()}
          >
            {trans.__('Reload')}
          </Button>
        </div>
        <Section title={trans.__('Runs')} testid="executions">
          <Part part={model.executions} what={trans.__('the runs')} trans={trans}
                retry={() => void model.refresh()}>
            {runs => runs.length ? (
              <ExecutionList runs={runs} model={model} trans={trans} />
            ) : (
              <Empty text={trans.__('No run yet: run the plugin from a notebook (%omniplug run).')} />
            )}
          </Part>
          {(model.execution.value || model.execution.error || model.execution.loading) && (
            <Part part={model.execution} what={trans.__('the run')} trans={trans}
                  retry={() => void model.refresh()}>
              {run => <ExecutionDetail run={run} trans={trans} />}
            </Part>
          )}
        </Section>
        <Section title={trans.__('Scan report')} testid="scan">
          <Part part={model.scan} what={trans.__('the scan report')} trans={trans}
                retry={() => void model.refresh()}>
            {scan => <ScanReport findings={scan.report?.findings ?? []}
                                 passed={scan.report?.passed ?? true}
                                 scanners={scan.report?.scanners ?? []} trans={trans} />}
          </Part>
        </Section>
        <Section title={trans.__('README')} testid="readme">
          <Part part={model.readme} what={trans.__('the README')} trans={trans}
                retry={() => void model.refresh()}>
            {readme => readme.html ? (
              <div
                className="jp-OmniscopePlugins-readme jp-RenderedHTMLCommon"
                // The server rendered and sanitised it (safe_html), as the notebook widget's.
                dangerouslySetInnerHTML={{ __html: readme.html }}
              />
            ) : (
              <Empty text={trans.__('This plugin has no README.')} />
            )}
          </Part>
        </Section>
        <Section title={trans.__('Reviews')} testid="reviews">
          <Part part={model.reviews} what={trans.__('the reviews')} trans={trans}
                retry={() => void model.refresh()}>
            {reviews => (
              <>
                <p className="jp-OmniscopePlugins-rating">
                  {reviews.rating && reviews.rating.count
                    ? trans.__('Rated %1 / 5 by %2', reviews.rating.average ?? '–', reviews.rating.count)
                    : trans.__('Not rated yet')}
                </p>
                {reviews.reviews.length ? (
                  <ul className="jp-OmniscopePlugins-reviews">
                    {reviews.reviews.map(review => (
                      <li key={review.id} data-testid="review">
                        <span className="jp-OmniscopePlugins-reviewer">{review.user}</span>
                        {review.rating ? ` · ${'★'.repeat(review.rating)}` : ''}
                        <p>{review.text}</p>
                      </li>
                    ))}
                  </ul>
                ) : (
                  <Empty text={trans.__('No review yet.')} />
                )}
              </>
            )}
          </Part>
          <ReviewForm model={model} trans={trans} />
        </Section>
      </div>
    );
  }

  private readonly _trans: TranslationBundle;
}

function Section(props: {
  title: string;
  testid: string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <section className="jp-OmniscopePlugins-section" data-testid={props.testid}
             aria-label={props.title}>
      <h3 className="jp-OmniscopePlugins-heading">{props.title}</h3>
      {props.children}
    </section>
  );
}

/** A part of the details: loading, its error (with a retry), or its content. */
function Part<T>(props: {
  part: IPart<T>;
  what: string;
  trans: TranslationBundle;
  retry: () => void;
  children: (value: T) => JSX.Element;
}): JSX.Element {
  const { part, trans } = props;
  if (part.error !== null) {
    return (
      <LoadError
        title={trans.__('Could not load %1.', props.what)}
        message={part.error}
        onRetry={props.retry}
        trans={trans}
      />
    );
  }
  if (part.value === null) {
    return <Loading text={trans.__('Loading %1…', props.what)} />;
  }
  return props.children(part.value);
}

function duration(run: IExecution): string {
  return typeof run.duration_ms === 'number' ? `${Math.round(run.duration_ms)} ms` : '–';
}

function ExecutionList(props: {
  runs: IExecution[];
  model: DetailsModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { runs, model, trans } = props;
  const opened = model.execution.value?.execution_id;
  return (
    <table className="jp-OmniscopePlugins-runs">
      <thead>
        <tr>
          <th scope="col">{trans.__('Started')}</th>
          <th scope="col">{trans.__('Status')}</th>
          <th scope="col">{trans.__('Duration')}</th>
          <th scope="col"><span className="jp-OmniscopePlugins-hidden">{trans.__('Open')}</span></th>
        </tr>
      </thead>
      <tbody>
        {runs.map(run => (
          <tr key={run.execution_id} data-testid="execution" data-status={run.status}
              aria-selected={run.execution_id === opened}>
            <td title={trans.__('Version %1, started %2', run.version, run.started_at ?? '–')}>
              {run.started_at
                ? new Date(run.started_at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
                : '–'}
            </td>
            <td className={`jp-OmniscopePlugins-runStatus jp-mod-${run.status}`}>{run.status}</td>
            <td>{duration(run)}</td>
            <td>
              <Button minimal small
                      aria-label={trans.__('Show run %1', run.execution_id.slice(0, 8))}
                      onClick={() => void model.openExecution(run.execution_id)}>
                {trans.__('Show')}
              </Button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function TextBlock(props: { title: string; lines: string[] | string | undefined }): JSX.Element | null {
  const text = Array.isArray(props.lines) ? props.lines.join('\n') : props.lines ?? '';
  if (!text.trim()) {
    return null;
  }
  return (
    <>
      <h4 className="jp-OmniscopePlugins-subheading">{props.title}</h4>
      <pre className="jp-OmniscopePlugins-pre">{text}</pre>
    </>
  );
}

function ExecutionDetail(props: { run: IExecution; trans: TranslationBundle }): JSX.Element {
  const { run, trans } = props;
  return (
    <div className="jp-OmniscopePlugins-run" data-testid="execution-detail" data-status={run.status}>
      <p>
        {trans.__('Run %1: %2 in %3 (version %4).', run.execution_id.slice(0, 8), run.status,
                  duration(run), run.version)}
      </p>
      <TextBlock title={trans.__('Errors')} lines={run.errors} />
      <TextBlock title={trans.__('Warnings')} lines={run.warnings} />
      <TextBlock title={trans.__('Logs')} lines={run.logs} />
      <TextBlock title={trans.__('Output')} lines={run.stdout} />
      <TextBlock title={trans.__('Error output')} lines={run.stderr} />
    </div>
  );
}

function ScanReport(props: {
  findings: IFinding[];
  passed: boolean;
  scanners: string[];
  trans: TranslationBundle;
}): JSX.Element {
  const { findings, trans } = props;
  return (
    <>
      <p className="jp-OmniscopePlugins-scanVerdict" data-passed={String(props.passed)}>
        {props.passed ? trans.__('Passed') : trans.__('Blocked')}
        {props.scanners.length ? ` · ${props.scanners.join(', ')}` : ''}
      </p>
      {findings.length ? (
        <ul className="jp-OmniscopePlugins-findings">
          {findings.map((f, i) => (
            <li key={i} data-testid="finding" data-severity={f.severity}>
              <span className={`jp-OmniscopePlugins-severity jp-mod-${f.severity.toLowerCase()}`}>
                {f.severity}
              </span>{' '}
              <code>{f.file}{f.line ? `:${f.line}` : ''}</code> {f.rule_id}: {f.message}
              {f.fix_hint ? <div className="jp-OmniscopePlugins-hint">{f.fix_hint}</div> : null}
            </li>
          ))}
        </ul>
      ) : (
        <Empty text={trans.__('No finding.')} />
      )}
    </>
  );
}

function ReviewForm(props: { model: DetailsModel; trans: TranslationBundle }): JSX.Element {
  const { model, trans } = props;
  const [text, setText] = React.useState('');
  const [rating, setRating] = React.useState('');
  const [sending, setSending] = React.useState(false);
  const status = model.reviewStatus;
  return (
    <form
      className="jp-OmniscopePlugins-reviewForm"
      aria-label={trans.__('Add a review')}
      onSubmit={event => {
        event.preventDefault();
        if (!text.trim()) {
          return;
        }
        setSending(true);
        void model.addReview(text.trim(), rating ? Number(rating) : null).then(ok => {
          setSending(false);
          if (ok) {
            setText('');
            setRating('');
          }
        });
      }}
    >
      <textarea
        className="jp-mod-styled jp-OmniscopePlugins-reviewText"
        aria-label={trans.__('Your review')}
        placeholder={trans.__('Your review')}
        value={text}
        maxLength={4000}
        onChange={event => setText(event.currentTarget.value)}
      />
      <div className="jp-OmniscopePlugins-actions">
        <HTMLSelect
          aria-label={trans.__('Your rating')}
          value={rating}
          options={[
            { label: trans.__('No rating'), value: '' },
            ...[5, 4, 3, 2, 1].map(n => ({ label: '★'.repeat(n), value: String(n) }))
          ]}
          onChange={event => setRating(event.currentTarget.value)}
        />
        <Button type="submit" small disabled={sending || !text.trim()}>
          {sending ? trans.__('Sending…') : trans.__('Add review')}
        </Button>
      </div>
      {status && (
        <p className={`jp-OmniscopePlugins-formStatus jp-mod-${status.kind}`}
           role={status.kind === 'error' ? 'alert' : 'status'}>
          {status.text}
        </p>
      )}
    </form>
  );
}
