import org.jspecify.annotations.NullMarked;

/**
 * Collector's public types: what a handler receives, the pull API's delivery handle, the source and
 * checkpoint-store SPI, options, progress and the exception hierarchy. The implementation lives in
 * {@code dev.collector.core}.
 */
@NullMarked
module dev.collector.api {
  requires static transitive org.jspecify;

  exports dev.collector;
}
