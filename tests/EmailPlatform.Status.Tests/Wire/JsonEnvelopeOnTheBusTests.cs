using System.Net.Mime;
using System.Runtime.Serialization;
using System.Text;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.ServiceDefaults.Messaging;
using MassTransit;
using MassTransit.Serialization;

namespace EmailPlatform.Status.Tests.Wire;

/// <summary>
/// <see cref="JsonEnvelopeDeserializer"/> in a bus (MassTransit's in-memory transport, no broker), where what MassTransit
/// does around deserializing depends on it: a body it cannot read faults into the error queue as it does with MassTransit's
/// own deserializer, a consumer's retries and its <see cref="Fault{T}"/> carry the message, and a message put back into its
/// queue (<see cref="StoreOutagePutBack"/>, through MassTransit's <c>ForwardMessagePipe</c>) comes back as it was.
/// </summary>
public sealed class JsonEnvelopeOnTheBusTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AMalformedBodyFaultsWithASerializationExceptionIntoTheErrorQueue(bool ours)
    {
        var body = """{"messageType": ["urn:message:EmailPlatform.Contracts:EmailQueued"], "message": {"emailId": """;
        var consumed = 0;
        var observer = new Observer(faultedQueue: "status-queued", receivedQueue: "status-queued_error");
        var bus = CreateBus(ours, cfg =>
        {
            cfg.ReceiveEndpoint("status-queued", e => e.Handler<EmailQueued>(_ => Task.FromResult(Interlocked.Increment(ref consumed))));
            cfg.ReceiveEndpoint("status-queued_error", _ => { });
        });
        using var _ = bus.ConnectReceiveObserver(observer);
        await bus.StartAsync();
        try
        {
            var endpoint = await bus.GetSendEndpoint(new Uri("queue:status-queued"));
            await endpoint.Send(new EmailQueued(NewId.NextGuid(), NewId.NextGuid(), DateTimeOffset.UtcNow), c => c.Serializer = new BodyAsItIs(body));

            var fault = await observer.Faulted.WaitAsync(Timeout);
            var moved = await observer.Received.WaitAsync(Timeout);

            Assert.IsType<SerializationException>(fault);
            Assert.Equal("An error occured while deserializing the message envelope", fault.Message);
            Assert.Equal(body, Encoding.UTF8.GetString(moved.GetBody()));
            // MassTransit names the innermost exception there: the JSON reader's, with either deserializer.
            Assert.Equal("System.Text.Json.JsonReaderException", moved.TransportHeaders.Get<string>(MessageHeaders.FaultExceptionType));
            Assert.Equal(0, consumed);
        }
        finally
        {
            await bus.StopAsync();
        }
    }

    [Fact]
    public async Task AFailingConsumerIsRetriedWithTheMessageAndItsFaultCarriesIt()
    {
        var sent = new SendEmail(NewId.NextGuid(), "<id@emailplatform.test>", new Envelope("b@acme.test", ["a@example.com"]), "noreply@acme.test",
            ["a@example.com"], [], [], "Subject", "<p>" + new string('h', 40_000) + "</p>", "text", new Dictionary<string, string>(), [], [],
            new Dictionary<string, string>(), EmailPriority.Normal, DateTimeOffset.UtcNow);
        var conversationId = NewId.NextGuid();
        var attempts = new List<(Guid? MessageId, Guid? ConversationId, string? Trace, string Message)>();
        var faulted = new TaskCompletionSource<ConsumeContext<Fault<SendEmail>>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var bus = CreateBus(ours: true, cfg =>
        {
            cfg.ReceiveEndpoint("delivery-send-email", e =>
            {
                e.UseMessageRetry(r => r.Immediate(2));
                e.Handler<SendEmail>(context =>
                {
                    lock (attempts)
                    {
                        attempts.Add((context.MessageId, context.ConversationId, context.Headers.Get<string>("traceparent"), Json(context.Message)));
                    }

                    throw new InvalidOperationException("The relay is gone.");
                });
            });
            cfg.ReceiveEndpoint("delivery-send-email-faults", e => e.Handler<Fault<SendEmail>>(context => Task.FromResult(faulted.TrySetResult(context))));
        });
        await bus.StartAsync();
        try
        {
            var endpoint = await bus.GetSendEndpoint(new Uri("queue:delivery-send-email"));
            var messageId = NewId.NextGuid();
            await endpoint.Send(sent, c =>
            {
                c.MessageId = messageId;
                c.ConversationId = conversationId;
                c.Headers.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
            });

            var fault = await faulted.Task.WaitAsync(Timeout);

            Assert.Equal(3, attempts.Count);
            Assert.All(attempts, a => Assert.Equal((messageId, conversationId, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Json(sent)), a));
            Assert.Equal(Json(sent), Json(fault.Message.Message));
            Assert.Equal(messageId, fault.Message.FaultedMessageId);
            Assert.Equal("The relay is gone.", Assert.Single(fault.Message.Exceptions).Message);
            Assert.Equal(conversationId, fault.ConversationId);
        }
        finally
        {
            await bus.StopAsync();
        }
    }

    [Fact]
    public async Task AMessagePutBackIntoItsQueueComesBackAsItWas()
    {
        var accepted = new EmailAccepted(NewId.NextGuid(), NewId.NextGuid(), "<id@emailplatform.test>", "noreply@acme.test", ["a@example.com"], [], [], [],
            "Subject", "<p>" + new string('h', 20_000) + "</p>", null, [], [new EmailTag("category", "receipt")],
            new Dictionary<string, string> { ["order_id"] = "A-1" }, EmailPriority.High, DateTimeOffset.UtcNow, null, DateTimeOffset.UtcNow)
        {
            Queued = new EmailQueued(NewId.NextGuid(), NewId.NextGuid(), DateTimeOffset.UtcNow),
        };
        var consumes = new List<(Guid? MessageId, Guid? ConversationId, string? Trace, string Message)>();
        var back = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var bus = CreateBus(ours: true, cfg => cfg.ReceiveEndpoint("status-email-accepted", e => e.Handler<EmailAccepted>(async context =>
        {
            int count;
            lock (consumes)
            {
                consumes.Add((context.MessageId, context.ConversationId, context.Headers.Get<string>("traceparent"), Json(context.Message)));
                count = consumes.Count;
            }

            if (count == 1)
            {
                // As StoreOutagePutBack puts a message back when its store stayed out of reach.
                var endpoint = await context.GetSendEndpoint(new Uri("exchange:status-email-accepted"));
                await endpoint.Send(context.Message, new ForwardMessagePipe<EmailAccepted>(context), context.CancellationToken);
                return;
            }

            back.TrySetResult();
        })));
        await bus.StartAsync();
        try
        {
            var messageId = NewId.NextGuid();
            var conversationId = NewId.NextGuid();
            await bus.Publish(accepted, c =>
            {
                c.MessageId = messageId;
                c.ConversationId = conversationId;
                c.Headers.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
            });

            await back.Task.WaitAsync(Timeout);

            Assert.Equal(2, consumes.Count);
            Assert.All(consumes, c => Assert.Equal((messageId, conversationId, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Json(accepted)), c));
        }
        finally
        {
            await bus.StopAsync();
        }
    }

    private static IBusControl CreateBus(bool ours, Action<IInMemoryBusFactoryConfigurator> configure) =>
        Bus.Factory.CreateUsingInMemory(cfg =>
        {
            if (ours)
            {
                cfg.AddDeserializer(new JsonEnvelopeDeserializerFactory(), isDefault: true);
            }

            configure(cfg);
        });

    private static string Json(object value) => JsonSerializer.Serialize(value, value.GetType(), SystemTextJsonMessageSerializer.Options);

    /// <summary>Sends <paramref name="body"/> as the message's body, as a sender with a broken serializer would.</summary>
    private sealed class BodyAsItIs(string body) : IMessageSerializer
    {
        public ContentType ContentType => SystemTextJsonMessageSerializer.JsonContentType;

        public MessageBody GetMessageBody<T>(SendContext<T> context)
            where T : class => new StringMessageBody(body);
    }

    /// <summary>The first message one queue received, and the first exception another's receive faulted with.</summary>
    private sealed class Observer(string faultedQueue, string receivedQueue) : IReceiveObserver
    {
        private readonly TaskCompletionSource<ReceiveContext> _received = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<Exception> _faulted = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<ReceiveContext> Received => _received.Task;

        public Task<Exception> Faulted => _faulted.Task;

        public Task PreReceive(ReceiveContext context)
        {
            if (Queue(context) == receivedQueue)
            {
                _received.TrySetResult(context);
            }

            return Task.CompletedTask;
        }

        public Task ReceiveFault(ReceiveContext context, Exception exception)
        {
            if (Queue(context) == faultedQueue)
            {
                _faulted.TrySetResult(exception);
            }

            return Task.CompletedTask;
        }

        public Task PostReceive(ReceiveContext context) => Task.CompletedTask;

        public Task PostConsume<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType)
            where T : class => Task.CompletedTask;

        public Task ConsumeFault<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType, Exception exception)
            where T : class => Task.CompletedTask;

        private static string Queue(ReceiveContext context) => context.InputAddress.AbsolutePath.TrimEnd('/').Split('/')[^1];
    }
}
