/**
 * The status line of the panel, and the one place where a failed action becomes a message.
 */
import { ApiError } from './api';
import { h } from './dom';

/** Runs user actions and reports their outcome in one status line. */
export class Feedback {
  readonly node = h('div', { class: 'jp-OmniscopePlugins-status', 'aria-live': 'polite' });

  /** Show a success or progress note. */
  info(text: string): void {
    this.node.className = 'jp-OmniscopePlugins-status jp-OmniscopePlugins-info';
    this.node.setAttribute('role', 'status');
    this.node.textContent = text;
  }

  /**
   * Show why an action failed: the server's JSON `message` for an `ApiError`; for anything
   * else (a bug in the panel) a generic sentence, with the details in the browser console.
   */
  error(error: unknown): void {
    this.node.className = 'jp-OmniscopePlugins-status jp-OmniscopePlugins-error';
    this.node.setAttribute('role', 'alert');
    if (error instanceof ApiError) {
      this.node.textContent = error.message;
    } else {
      console.error('omniscope-jupyter:', error);
      this.node.textContent = 'Something went wrong in the plugins panel; see the browser console.';
    }
  }

  clear(): void {
    this.node.className = 'jp-OmniscopePlugins-status';
    this.node.removeAttribute('role');
    this.node.textContent = '';
  }

  /**
   * Run `action` with `controls` disabled meanwhile (no double install on a double click);
   * resolves to false when it failed, after reporting why.
   */
  async run(
    controls: (HTMLButtonElement | HTMLInputElement | HTMLSelectElement)[],
    action: () => Promise<void>
  ): Promise<boolean> {
    this.clear();
    controls.forEach(c => (c.disabled = true));
    try {
      await action();
      return true;
    } catch (error) {
      this.error(error);
      return false;
    } finally {
      controls.forEach(c => (c.disabled = false));
    }
  }
}
