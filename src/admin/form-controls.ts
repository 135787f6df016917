/**
 * Form controls of the admin page: a label bound to its input, an optional hint, an inline
 * error message tied to the input with `aria-describedby` and `aria-invalid`, and an error
 * summary that links to each invalid field.
 *
 * Why: every form (settings, test email, diagnostics, API keys, login) must show server-side
 * validation next to the field and all at once, in a way a screen reader announces; writing
 * that markup once keeps the forms consistent.
 *
 * Imports: ./html.
 */
import { html, type Interpolation, type SafeHtml } from './html.js';

export interface ControlBase {
  id: string;
  /** The form field name; omit for a read-only display (nothing is submitted). */
  name?: string;
  label: string;
  hint?: Interpolation;
  error?: string;
  /**
   * The field is invalid and its message is shown elsewhere (the element with this id, e.g. an
   * error summary): marked invalid and described by it, without repeating the text.
   */
  invalidBy?: string;
  /** Extra markup after the input (e.g. a "clear" checkbox). */
  after?: Interpolation;
}

export interface TextControl extends ControlBase {
  value?: string;
  type?: 'text' | 'email' | 'password' | 'url' | 'date';
  placeholder?: string;
  autocomplete?: string;
  inputmode?: 'text' | 'numeric' | 'email' | 'url';
  readonly?: boolean;
  required?: boolean;
  maxlength?: number;
  /** A textarea instead of an input. */
  multiline?: boolean;
  spellcheck?: boolean;
}

function describedBy(c: ControlBase): SafeHtml {
  const ids = [c.hint ? `${c.id}-hint` : '', c.error ? `${c.id}-error` : '', c.invalidBy ?? ''].filter(Boolean).join(' ');
  return ids ? html` aria-describedby="${ids}"` : html``;
}

function messages(c: ControlBase): SafeHtml {
  return html`${c.hint !== undefined && c.hint !== '' ? html`<div class="hint" id="${c.id}-hint">${c.hint}</div>` : ''}${c.error ? html`<p class="field-error" id="${c.id}-error"><span class="visually-hidden">Error: </span>${c.error}</p>` : ''}`;
}

export function textControl(c: TextControl): SafeHtml {
  const common = html` id="${c.id}"${c.name ? html` name="${c.name}"` : ''}${describedBy(c)}${c.error || c.invalidBy ? html` aria-invalid="true"` : ''}${c.readonly ? html` readonly` : ''}${c.required ? html` required` : ''}${c.autocomplete ? html` autocomplete="${c.autocomplete}"` : ''}${c.maxlength ? html` maxlength="${c.maxlength}"` : ''}${c.placeholder ? html` placeholder="${c.placeholder}"` : ''}${c.spellcheck === false ? html` spellcheck="false"` : ''}`;
  const input = c.multiline
    ? html`<textarea${common} rows="4">${c.value ?? ''}</textarea>`
    : html`<input type="${c.type ?? 'text'}"${common}${c.inputmode ? html` inputmode="${c.inputmode}"` : ''} value="${c.value ?? ''}">`;
  return html`<div class="field${c.error || c.invalidBy ? ' has-error' : ''}${c.readonly ? ' is-readonly' : ''}">
  <label for="${c.id}">${c.label}</label>
  ${messages(c)}
  ${input}
  ${c.after}
</div>`;
}

/**
 * The input type for a date that may also be stored as an ISO date-time ("Client Secret
 * expires" accepts both): a date picker for a plain YYYY-MM-DD (or nothing yet), else text.
 * Why not always a date input: the browser empties a date input whose value is not a plain date,
 * and the emptied field would then be submitted and clear the stored expiry.
 */
export function dateInputType(value: string): 'date' | 'text' {
  return value === '' || /^\d{4}-\d{2}-\d{2}$/.test(value) ? 'date' : 'text';
}

export interface SelectControl extends ControlBase {
  value: string;
  options: readonly { value: string; label: string }[];
  disabled?: boolean;
}

export function selectControl(c: SelectControl): SafeHtml {
  return html`<div class="field${c.error ? ' has-error' : ''}">
  <label for="${c.id}">${c.label}</label>
  ${messages(c)}
  <select id="${c.id}"${c.name ? html` name="${c.name}"` : ''}${describedBy(c)}${c.error ? html` aria-invalid="true"` : ''}${c.disabled ? html` disabled` : ''}>
    ${c.options.map((o) => html`<option value="${o.value}"${o.value === c.value ? html` selected` : ''}>${o.label}</option>`)}
  </select>
  ${c.after}
</div>`;
}

export interface CheckboxControl extends ControlBase {
  checked: boolean;
  value?: string;
  disabled?: boolean;
  /** A hidden field with this value is sent first, so an unticked box still says "false". */
  uncheckedValue?: string;
  /** Render as a switch (role="switch"). */
  switch?: boolean;
}

export function checkboxControl(c: CheckboxControl): SafeHtml {
  return html`<div class="field field-check${c.error ? ' has-error' : ''}${c.switch ? ' field-switch' : ''}">
  ${c.uncheckedValue !== undefined && c.name && !c.disabled ? html`<input type="hidden" name="${c.name}" value="${c.uncheckedValue}">` : ''}
  <input type="checkbox" id="${c.id}"${c.name ? html` name="${c.name}"` : ''} value="${c.value ?? 'true'}"${c.checked ? html` checked` : ''}${c.disabled ? html` disabled` : ''}${c.switch ? html` role="switch"` : ''}${describedBy(c)}${c.error ? html` aria-invalid="true"` : ''}>
  <label for="${c.id}">${c.label}</label>
  ${messages(c)}
  ${c.after}
</div>`;
}

export interface SummaryItem {
  /** The id of the field to jump to, when there is one. */
  fieldId?: string;
  message: string;
}

/** "There is a problem" box listing every error with a link to its field; focused by the script. */
export function errorSummary(items: readonly SummaryItem[], title = 'Nothing was saved: fix the problems below', id?: string): SafeHtml {
  if (!items.length) return html``;
  return html`<div class="error-summary"${id ? html` id="${id}"` : ''} role="alert" tabindex="-1" data-focus>
  <h2>${title}</h2>
  <ul>${items.map((i) => html`<li>${i.fieldId ? html`<a href="#${i.fieldId}">${i.message}</a>` : i.message}</li>`)}</ul>
</div>`;
}
