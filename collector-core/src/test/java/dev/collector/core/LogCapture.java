package dev.collector.core;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** Captures what the collector logs through System.Logger (backed by java.util.logging). */
final class LogCapture implements AutoCloseable {
  private final Logger logger = Logger.getLogger("dev.collector.Collector");
  private final List<String> warnings = new CopyOnWriteArrayList<>();
  private final Handler handler =
      new Handler() {
        @Override
        public void publish(LogRecord record) {
          if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
            Object[] params = record.getParameters();
            String message = record.getMessage();
            if (params != null) {
              message = java.text.MessageFormat.format(message, params);
            }
            warnings.add(message);
          }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };

  LogCapture() {
    logger.addHandler(handler);
  }

  List<String> warnings() {
    return List.copyOf(warnings);
  }

  long warningsContaining(String text) {
    return warnings.stream().filter(w -> w.contains(text)).count();
  }

  @Override
  public void close() {
    logger.removeHandler(handler);
  }
}
