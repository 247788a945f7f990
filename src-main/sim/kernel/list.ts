/**
 * list_del() on the small arrays the model keeps for kernel lists (an mm's SVA domains, a domain's SSIDs per master,
 * a file table): removal without Array.prototype.splice, which allocates an array of the removed elements on every
 * call.
 */

/** Removes the element at `i` (0 <= i < a.length), keeping the order of the others. */
export function removeAt<T>(a: T[], i: number): void {
  for (let j = i + 1; j < a.length; j++) a[j - 1] = a[j]!;
  a.pop(); // not `a.length--`: setting the length is a runtime call, pop() an inlined builtin
}

/** Removes the first element equal to `v`; false when there is none. */
export function removeFirst<T>(a: T[], v: T): boolean {
  const i = a.indexOf(v);
  if (i < 0) return false;
  removeAt(a, i);
  return true;
}
