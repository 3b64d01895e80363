package dev.collector.examples;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The append-only file in which a crash child records each batch it handled, one line each.
 * Thread-safe: handlers of one run append concurrently; a line is written whole before the next.
 * Once written, a line is in the page cache and survives kill -9.
 */
final class HandledFile implements AutoCloseable {
  private final FileChannel channel;
  private final ReentrantLock lock = new ReentrantLock();

  HandledFile(Path path) throws IOException {
    channel =
        FileChannel.open(
            path, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
  }

  /** Appends {@code line} and a line end; blocks on the file write. */
  void append(CharSequence line) throws IOException {
    ByteBuffer bytes = ByteBuffer.wrap((line + "\n").getBytes(StandardCharsets.UTF_8));
    lock.lock();
    try {
      while (bytes.hasRemaining()) {
        channel.write(bytes);
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
