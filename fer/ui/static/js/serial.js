// Calls of an async function that share buffers or an inference session, run one at a time in call order.

/**
 * `fn` whose calls each wait for the previous call to end (resolved or rejected).
 * @template {(...args: any[]) => Promise<any>} F
 * @param {F} fn
 * @returns {F}
 */
export function serially(fn) {
  let last = Promise.resolve();
  return /** @type {F} */ (
    (...args) => {
      const next = last.then(() => fn(...args));
      last = next.catch(() => undefined);
      return next;
    }
  );
}
