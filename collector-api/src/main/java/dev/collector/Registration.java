package dev.collector;

/**
 * A listener's registration with a collector, returned by {@link
 * Collector#listen(CollectorListener)}. Closing it stops the listener's events.
 */
public interface Registration extends AutoCloseable {

  /**
   * Removes the listener. No event starts for it after this returns; an event that started before
   * may still finish (and may call the listener after this returned). Idempotent and thread-safe;
   * never blocks on the collector's work, and may be called from inside a listener callback (the
   * callback in progress finishes). Removes this registration only: a listener registered twice
   * stays registered through its other registration. After the collector was closed it does
   * nothing.
   */
  @Override
  void close();
}
