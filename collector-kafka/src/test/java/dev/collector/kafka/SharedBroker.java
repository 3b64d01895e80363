package dev.collector.kafka;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Starts one broker per test run, kept in the root store and shared by every test class that uses
 * this extension; stopped when the run ends. Tests get it as a {@link Broker} parameter and use
 * their own topics and groups.
 */
final class SharedBroker implements BeforeAllCallback, AfterAllCallback, ParameterResolver {

  private static final class Holder implements ExtensionContext.Store.CloseableResource {
    final Broker broker;

    Holder(Broker broker) {
      this.broker = broker;
    }

    @Override
    public void close() throws Exception {
      broker.close();
    }
  }

  static Broker get(ExtensionContext context) {
    return context
        .getRoot()
        .getStore(ExtensionContext.Namespace.GLOBAL)
        .getOrComputeIfAbsent(
            SharedBroker.class,
            k -> {
              try {
                return new Holder(Broker.start());
              } catch (Exception e) {
                throw new IllegalStateException("could not start the test broker", e);
              }
            },
            Holder.class)
        .broker;
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    get(context);
  }

  @Override
  public void afterAll(ExtensionContext context) {}

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext extension) {
    return parameter.getParameter().getType() == Broker.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext extension) {
    return get(extension);
  }
}
