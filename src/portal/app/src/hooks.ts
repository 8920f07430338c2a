/** Loading API data in a page: the value, the error, whether it is loading, and a reload. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload: () => void;
}

/** GETs `path` (nothing while it is undefined); again when the path changes, on reload(), and every `everyMs`. */
export function useApi<T>(path: string | undefined, everyMs?: number): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [loading, setLoading] = useState(path !== undefined);
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    if (path === undefined) return;
    const n = ++latest.current;
    setLoading(true);
    api<T>('GET', path).then(
      (d) => {
        if (n !== latest.current) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (n !== latest.current) return;
        setError(e instanceof ApiError ? e : new ApiError(0, 'PORTAL_ERROR', String(e)));
        setLoading(false);
      },
    );
  }, [path, tick]);
  useEffect(() => {
    if (!everyMs || path === undefined) return;
    const t = setInterval(() => setTick((x) => x + 1), everyMs);
    return () => clearInterval(t);
  }, [everyMs, path]);
  const reload = useCallback(() => setTick((x) => x + 1), []);
  return { data, error, loading, reload };
}

/** An action button's state: running, its result or error. */
export function useAction<A extends unknown[], R>(
  run: (...args: A) => Promise<R>,
): {
  busy: boolean;
  result: R | undefined;
  error: ApiError | undefined;
  go: (...args: A) => Promise<R | undefined>;
} {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<R | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const go = async (...args: A) => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await run(...args);
      setResult(r);
      return r;
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, 'PORTAL_ERROR', String(e)));
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, result, error, go };
}
