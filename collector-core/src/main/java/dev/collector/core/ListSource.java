package dev.collector.core;

import dev.collector.BatchSource;
import dev.collector.SourceBatch;
import dev.collector.SourceReader;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** See {@link Collecting#listSource(List)}. The resume token is the next batch's index. */
final class ListSource<T> implements BatchSource<T> {

  private final List<List<T>> batches;

  ListSource(List<? extends List<? extends T>> batches) {
    this.batches = batches.stream().<List<T>>map(List::copyOf).toList();
  }

  @Override
  public SourceReader<T> open(String resumeToken) {
    int from = resumeToken.isEmpty() ? 0 : parse(resumeToken);
    return new SourceReader<>() {
      private int next = from;

      @Override
      public @Nullable SourceBatch<T> next() {
        if (next >= batches.size()) {
          return null;
        }
        List<T> records = batches.get(next++);
        return new SourceBatch<>(records, Integer.toString(next));
      }

      @Override
      public void close() {}
    };
  }

  private int parse(String token) {
    int index;
    try {
      index = Integer.parseInt(token);
    } catch (NumberFormatException e) {
      index = -1;
    }
    if (index < 0 || index > batches.size()) {
      throw new IllegalArgumentException(
          "resume token \""
              + token
              + "\" is not a batch index of this list source of "
              + batches.size()
              + " batches; was the checkpoint written for another source?");
    }
    return index;
  }
}
