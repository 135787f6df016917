/**
 * The escaping template helper of the admin page: every interpolation is HTML-escaped unless
 * it is already a `SafeHtml` fragment.
 *
 * Why: the admin page shows text that comes from outside — message subjects and recipients
 * from API clients, SMTP replies from servers, diagnoses that quote them, settings typed by an
 * administrator. One forgotten escape would let a `<script>` in a subject run in the
 * administrator's session. So escaping is the default of the only way pages build HTML
 * (`html\`...\``), and the escape hatch `raw()` is reserved for fragments that are already
 * escaped (output of `html` itself, or constant markup written in this folder).
 *
 * Imports: nothing.
 */

/** A fragment of HTML that is safe to insert as is. Only `html` and `raw` make one. */
export class SafeHtml {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

/** What may be interpolated: text (escaped), numbers, safe fragments, nothing, or lists of those. */
export type Interpolation = SafeHtml | string | number | boolean | null | undefined | readonly Interpolation[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes text for element content and for quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (ch) => ESCAPES[ch]!);
}

/**
 * Marks a string as already-safe HTML. Use only for constant markup or text that was escaped
 * by `escapeHtml`; never for anything that came from a request, the store or a server.
 */
export function raw(fragment: string): SafeHtml {
  return new SafeHtml(fragment);
}

function render(value: Interpolation): string {
  if (value instanceof SafeHtml) return value.value;
  if (value === null || value === undefined || value === false || value === true) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  if (typeof value === 'number') return escapeHtml(String(value));
  return escapeHtml(String(value));
}

/**
 * Tagged template that escapes every interpolation. `true`, `false`, `null` and `undefined`
 * render as nothing, so `${cond && html\`...\`}` works; arrays are joined.
 *
 * @example
 * html`<td>${message.subject}</td>`            // "<script>" becomes "&lt;script&gt;"
 * html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>`
 */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Joins fragments with a separator (escaped when it is text). */
export function join(parts: readonly Interpolation[], separator: Interpolation = ''): SafeHtml {
  return new SafeHtml(parts.map(render).join(render(separator)));
}
