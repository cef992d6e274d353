using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.Ingress.Outbox;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.Testing;
using Microsoft.Extensions.DependencyInjection;
using RabbitMQ.Client;
using Xunit.Abstractions;

namespace EmailPlatform.Ingress.Tests.Outbox;

/// <summary>
/// The outbox over real PostgreSQL and RabbitMQ: it drains after a broker outage, two replicas on one database
/// never publish a message twice, one unreadable row never blocks the others, a row of a type this version does
/// not know is left for a replica that knows it, a scheduled email's command carries its time, and bodies are stored
/// as written (markup and non-ASCII text unescaped) and published unchanged.
/// </summary>
public sealed class OutboxPublishingTests(ITestOutputHelper output)
{
    private static readonly TimeSpan PublishWait = TimeSpan.FromSeconds(30);

    /// <summary>The exchange MassTransit publishes <see cref="EmailQueued"/> to.</summary>
    private const string QueuedExchange = "EmailPlatform.Contracts:EmailQueued";

    [Fact]
    public async Task EmailsAcceptedWhileTheBrokerWasDownArePublishedWhenItIsBack()
    {
        const int count = 200;
        await using var database = await TemporaryDatabase.CreateAsync();
        var apiKey = TestInfrastructure.NewApiKey();
        var nowhere = new Uri($"amqp://guest:guest@127.0.0.1:{ServiceProcess.FreeTcpPort()}/");

        var ids = new List<Guid>();
        await using (var offline = await IngressApp.StartAsync(rabbitMq: nowhere, database: database, apiKey: apiKey))
        {
            using var client = offline.CreateClient();
            for (var i = 0; i < count; i++)
            {
                using var response = await IngressApp.PostJsonAsync(client, "/v1/emails", SendBodies.Json().ToJsonString());
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
                ids.Add(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid());
            }

            // One outbox row per email accepted for now (its events and command are derived when published).
            Assert.Equal(count, await Unpublished(database));
        }

        // The broker is back: an ingress on the same database with a reachable broker drains the backlog.
        await using var vhost = await TemporaryVirtualHost.CreateAsync();
        await using var queue = await CountingQueue.BindAsync(vhost.Uri);
        var clock = Stopwatch.StartNew();
        await using var online = await IngressApp.StartAsync(rabbitMq: vhost.Uri, database: database, apiKey: apiKey);
        await Eventually.GetAsync(() => Unpublished(database), n => n == 0, PublishWait, "the outbox to drain");
        clock.Stop();

        var published = await queue.DrainAsync();
        Assert.Equal(ids.Order(), published.Order());
        output.WriteLine($"Catch-up: {count} emails ({count * 3} bus messages) published in {clock.Elapsed.TotalSeconds:0.00} s " +
            $"including host start = {count / clock.Elapsed.TotalSeconds:0} emails/s");
    }

    [Fact]
    public async Task TwoIngressReplicasOnOneDatabaseNeverPublishTheSameMessageTwice()
    {
        const int count = 150;
        await using var database = await TemporaryDatabase.CreateAsync();
        await using var vhost = await TemporaryVirtualHost.CreateAsync();
        await using var queue = await CountingQueue.BindAsync(vhost.Uri);
        var apiKey = TestInfrastructure.NewApiKey();
        // A confirm later than the publish timeout rolls its batch back to be published again, as it must: on a loaded
        // broker that is a legitimate duplicate, so only double claiming is left to count here.
        var settings = new Dictionary<string, string?>
        {
            ["Ingress:Outbox:BatchSize"] = "5", ["Ingress:Outbox:PollInterval"] = "00:00:00.050", ["Ingress:Outbox:PublishTimeout"] = "00:05:00",
        };
        await using var first = await IngressApp.StartAsync(vhost.Uri, settings, database, apiKey);
        await using var second = await IngressApp.StartAsync(vhost.Uri, settings, database, apiKey);
        using var firstClient = first.CreateClient();
        using var secondClient = second.CreateClient();

        // A few requests at a time: the test databases do not pool connections, and PostgreSQL has a connection limit.
        using var gate = new SemaphoreSlim(8);
        var ids = await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await gate.WaitAsync();
            using var release = new Release(gate);
            using var response = await IngressApp.PostJsonAsync(i % 2 == 0 ? firstClient : secondClient, "/v1/emails", SendBodies.Json().ToJsonString());
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();
        }));
        await Eventually.GetAsync(() => Unpublished(database), n => n == 0, PublishWait, "the outbox to drain");
        // Both replicas stopped (their publishers' loops ended, their buses closed): whatever either published is in the
        // queue now, a row one of them claimed twice included. Disposing them again is a no-op.
        await first.DisposeAsync();
        await second.DisposeAsync();

        var published = await queue.DrainAsync();
        Assert.Equal(count, published.Count);
        Assert.Equal(ids.Order(), published.Order());
    }

    [Fact]
    public async Task EachSendEmailGoesIntoTheLaneOfItsPriority()
    {
        await using var app = await IngressApp.StartAsync();
        await using var high = await CountingQueue.BindAsync(app.RabbitMq!, DeliveryLanes.High);
        await using var normal = await CountingQueue.BindAsync(app.RabbitMq!, DeliveryLanes.Normal);
        await using var bulk = await CountingQueue.BindAsync(app.RabbitMq!, DeliveryLanes.Bulk);

        var ids = new Dictionary<string, Guid>();
        foreach (var priority in new[] { "high", "normal", "bulk" })
        {
            using var response = await app.PostEmailAsync(SendBodies.Json(b => b["priority"] = priority).ToJsonString());
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            ids[priority] = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();
        }

        using var unprioritized = await app.PostEmailAsync(SendBodies.Json().ToJsonString());
        var unprioritizedId = JsonDocument.Parse(await unprioritized.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();

        await Eventually.GetAsync(async () => (await app.OutboxRowsAsync()).Count(r => r.PublishedAt is null), n => n == 0, PublishWait, "the outbox to drain");
        Assert.Equal([ids["high"]], await high.DrainAsync());
        Assert.Equal(new[] { ids["normal"], unprioritizedId }.Order(), (await normal.DrainAsync()).Order());
        Assert.Equal([ids["bulk"]], await bulk.DrainAsync());
    }

    [Fact]
    public async Task AnEmailStoredAsOneRowIsAnnouncedWithItsEventsInOneMessageAndSentIntoItsLane()
    {
        await using var app = await IngressApp.StartAsync();
        await using var accepted = await CountingQueue.BindAsync(app.RabbitMq!, "EmailPlatform.Contracts:EmailAccepted");
        await using var queued = await CountingQueue.BindAsync(app.RabbitMq!, QueuedExchange);
        await using var sent = await CountingQueue.BindAsync(app.RabbitMq!);

        using var response = await app.PostEmailAsync(SendBodies.Json().ToJsonString());
        var id = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();

        Assert.Equal(OutboxMessageTypes.AcceptedEmailRow, Assert.Single(await app.OutboxRowsAsync()).MessageType);
        await Eventually.GetAsync(() => app.FindOutboxRowAsync(id), r => r?.PublishedAt is not null, PublishWait, "the email to be published");
        // One message to the status service: the accept, carrying the hand-over to the workers (an event of its own).
        var announced = Assert.Single(await accepted.DrainMessagesAsync());
        Assert.Equal(id, announced.GetProperty("emailId").GetGuid());
        var handedOver = announced.GetProperty("queued");
        Assert.Equal(id, handedOver.GetProperty("emailId").GetGuid());
        Assert.NotEqual(announced.GetProperty("eventId").GetGuid(), handedOver.GetProperty("eventId").GetGuid());
        Assert.Empty(await queued.DrainAsync());
        Assert.Equal([id], await sent.DrainAsync());
    }

    [Fact]
    public async Task MarkupAndNonAsciiTextAreStoredAsWrittenAndPublishedUnchanged()
    {
        const string Html = "<table role=\"presentation\"><tr><td style=\"padding:8px\">Caf\u00e9 &amp; cr\u00e8me \u2014 2 &times; \u00a314.50 \u2764\ufe0f</td></tr></table>";
        const string Text = "Caf\u00e9 & cr\u00e8me \u2014 it's <yours>\u3002\n\tTab, \"quotes\" and \\ backslash.";
        await using var app = await IngressApp.StartAsync();
        await using var accepted = await CountingQueue.BindAsync(app.RabbitMq!, "EmailPlatform.Contracts:EmailAccepted");
        await using var sent = await CountingQueue.BindAsync(app.RabbitMq!);
        var body = SendBodies.Json();
        body["html"] = Html;
        body["text"] = Text;

        using var response = await app.PostEmailAsync(body.ToJsonString());
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();

        // The row holds both parts as written: only what JSON itself requires is escaped (quotes, the backslash, the
        // newline and the tab), no markup or non-ASCII character as a six-byte \uXXXX.
        var payload = Assert.Single(await app.OutboxRowsAsync()).Payload;
        Assert.Contains(Html.Replace("\"", "\\\"", StringComparison.Ordinal), payload, StringComparison.Ordinal);
        Assert.Contains("Caf\u00e9 & cr\u00e8me \u2014 it's <yours>\u3002\\n\\tTab, \\\"quotes\\\" and \\\\ backslash.", payload, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u", payload, StringComparison.Ordinal);

        // Read back and published, both parts are what the client sent: to the status service and to the workers.
        await Eventually.GetAsync(() => app.FindOutboxRowAsync(id), r => r?.PublishedAt is not null, PublishWait, "the email to be published");
        JsonElement[] messages = [Assert.Single(await accepted.DrainMessagesAsync()), Assert.Single(await sent.DrainMessagesAsync())];
        Assert.All(messages, m => Assert.Equal(Html, m.GetProperty("html").GetString()));
        Assert.All(messages, m => Assert.Equal(Text, m.GetProperty("text").GetString()));
    }

    /// <summary>
    /// A scheduled email's command, and its <c>email.queued</c> event, carry its time, the latest after a reschedule (the
    /// event used to keep the time of the accept).
    /// </summary>
    [Fact]
    public async Task ACommandAndItsQueuedEventCarryItsEmailsScheduledTimeTheLatestAfterARescheduleAndNoneWhenSentAtOnce()
    {
        // The ingress's clock is moved past the schedules instead of the test waiting for them.
        var clock = new AdvancingClock();
        await using var app = await IngressApp.StartAsync(services: s => s.AddSingleton<TimeProvider>(clock));
        await using var sent = await CountingQueue.BindAsync(app.RabbitMq!);
        await using var queued = await CountingQueue.BindAsync(app.RabbitMq!, QueuedExchange);
        using var client = app.CreateClient();
        var scheduledAt = DateTimeOffset.UtcNow.AddHours(1);
        var scheduled = await AcceptAsync(app, SendBodies.Json(b => b["scheduled_at"] = scheduledAt.ToString("O")));
        var moved = await AcceptAsync(app, SendBodies.Json(b => b["scheduled_at"] = DateTimeOffset.UtcNow.AddDays(1).ToString("O")));
        var movedTo = DateTimeOffset.UtcNow.AddHours(2);
        using var patch = await client.PatchAsync(new Uri($"/v1/emails/{moved}", UriKind.Relative),
            new StringContent($$"""{"scheduled_at": "{{movedTo:O}}"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        var atOnce = await AcceptAsync(app, SendBodies.Json());

        clock.Advance(TimeSpan.FromHours(3));
        await Eventually.GetAsync(async () => (await app.OutboxRowsAsync()).Count(r => r.PublishedAt is null), n => n == 0,
            TimeSpan.FromSeconds(60), "the outbox to drain");

        var commands = (await sent.DrainMessagesAsync()).ToDictionary(m => m.GetProperty("emailId").GetGuid());
        Assert.Equal(scheduledAt.UtcDateTime, Assert.NotNull(ScheduledAtOf(commands[scheduled])).UtcDateTime, TimeSpan.FromMilliseconds(1));
        Assert.Equal(movedTo.UtcDateTime, Assert.NotNull(ScheduledAtOf(commands[moved])).UtcDateTime, TimeSpan.FromMilliseconds(1));
        Assert.Null(ScheduledAtOf(commands[atOnce]));
        var events = (await queued.DrainMessagesAsync()).ToDictionary(m => m.GetProperty("emailId").GetGuid(), m => m.GetProperty("timestamp").GetDateTimeOffset());
        Assert.Equal(scheduledAt.UtcDateTime, events[scheduled].UtcDateTime, TimeSpan.FromMilliseconds(1));
        Assert.Equal(movedTo.UtcDateTime, events[moved].UtcDateTime, TimeSpan.FromMilliseconds(1));
    }

    /// <summary>
    /// Emails scheduled for the same instant, in batches of three: an email's <c>EmailQueued</c> and <c>SendEmail</c>
    /// rows are due together, and one batch's end fell between them about every third email. Their ids, random within
    /// their millisecond, used to put the command first half of the time, and then it was published a batch before the
    /// event. One queue bound to both keeps the order they were published in.
    /// </summary>
    [Fact]
    public async Task EmailsScheduledForTheSameInstantAreAnnouncedBeforeTheirCommandsWhereverTheBatchesEnd()
    {
        var clock = new AdvancingClock();
        await using var app = await IngressApp.StartAsync(
            settings: new Dictionary<string, string?> { ["Ingress:Outbox:BatchSize"] = "3" }, services: s => s.AddSingleton<TimeProvider>(clock));
        await using var published = await CountingQueue.BindAsync(app.RabbitMq!, QueuedExchange, DeliveryLanes.Normal);
        var at = DateTimeOffset.UtcNow.AddHours(1).ToString("O");
        var ids = new List<Guid>();
        for (var i = 0; i < 20; i++)
        {
            ids.Add(await AcceptAsync(app, SendBodies.Json(b => b["scheduled_at"] = at)));
        }

        clock.Advance(TimeSpan.FromHours(2));
        await Eventually.GetAsync(async () => (await app.OutboxRowsAsync()).Count(r => r.PublishedAt is null), n => n == 0,
            TimeSpan.FromSeconds(60), "the outbox to drain");

        var order = (await published.DrainMessagesAsync())
            .Select((m, i) => (Email: m.GetProperty("emailId").GetGuid(), IsCommand: m.TryGetProperty("from", out _), Index: i)).ToList();
        Assert.All(ids, id => Assert.True(
            order.Single(m => m.Email == id && !m.IsCommand).Index < order.Single(m => m.Email == id && m.IsCommand).Index,
            $"Email {id}'s command was published before its EmailQueued event."));
    }

    [Fact]
    public async Task RowsOfAKnownTypeWithAnUnreadablePayloadAreParkedCountedAndDoNotBlockTheOthers()
    {
        await using var app = await IngressApp.StartAsync();
        using var parkedGauge = new ParkedGaugeListener(app.Services.GetRequiredService<IMeterFactory>());
        var badPayload = Guid.NewGuid();
        var nullPayload = Guid.NewGuid();
        await app.ExecuteSqlAsync($"""
            INSERT INTO outbox_messages (id, email_id, message_type, payload, created_at, available_at)
            VALUES ('{badPayload}', '{Guid.NewGuid()}', 'SendEmail', '{"{not json"}', now(), now() - interval '1 hour'),
                   ('{nullPayload}', '{Guid.NewGuid()}', 'EmailQueued', 'null', now(), now() - interval '1 hour')
            """);

        using var response = await app.PostEmailAsync(SendBodies.Json().ToJsonString());
        var id = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();

        var row = await Eventually.GetAsync(() => app.FindOutboxRowAsync(id), r => r?.PublishedAt is not null, PublishWait, "the good email to be published");
        Assert.NotNull(row);
        var poison = (await app.OutboxRowsAsync()).Where(r => r.Id == badPayload || r.Id == nullPayload).ToList();
        Assert.Equal(2, poison.Count);
        Assert.All(poison, r =>
        {
            Assert.Null(r.PublishedAt);
            Assert.Equal(new DateTime(9999, 12, 31, 0, 0, 0, DateTimeKind.Utc), r.AvailableAt);
        });
        // The gauge counts them within its refresh interval.
        await Eventually.GetAsync(() => Task.FromResult(parkedGauge.Read()), n => n == 2, TimeSpan.FromSeconds(60), "emailplatform.outbox.parked to count 2");
    }

    /// <summary>
    /// In a rolling upgrade an older replica shares the outbox with newer ones: a row of a type it does not know (as the
    /// AcceptedEmail row once was) is not its to park, but left as it is for a replica that knows it.
    /// </summary>
    [Fact]
    public async Task RowsOfATypeThisVersionDoesNotKnowAreLeftAsTheyAreForAReplicaThatKnowsIt()
    {
        await using var app = await IngressApp.StartAsync();
        using var before = await app.PostEmailAsync(SendBodies.Json().ToJsonString());
        var first = JsonDocument.Parse(await before.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();
        // Due after the first email and before the second (to the microsecond, as PostgreSQL keeps it).
        var now = DateTime.UtcNow;
        var due = new DateTime(now.Ticks - now.Ticks % 10, DateTimeKind.Utc);
        var unknownType = Guid.NewGuid();
        await app.ExecuteSqlAsync($"""
            INSERT INTO outbox_messages (id, email_id, message_type, payload, created_at, available_at)
            VALUES ('{unknownType}', '{Guid.NewGuid()}', 'SomethingNewer', '{"{}"}', now(), '{due.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture)}')
            """);

        using var after = await app.PostEmailAsync(SendBodies.Json().ToJsonString());
        var second = JsonDocument.Parse(await after.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();

        // Due before the second email, so the batch that published it passed over the row.
        await Eventually.GetAsync(() => app.FindOutboxRowAsync(second), r => r?.PublishedAt is not null, PublishWait, "the email after it to be published");
        Assert.NotNull((await app.FindOutboxRowAsync(first))!.PublishedAt);
        var unknown = Assert.Single(await app.OutboxRowsAsync(), r => r.Id == unknownType);
        Assert.Null(unknown.PublishedAt);
        Assert.Equal(due, unknown.AvailableAt);
    }

    /// <summary>The <c>emailplatform.outbox.parked</c> gauge of one host (its <see cref="IMeterFactory"/>), not of the other tests' hosts.</summary>
    private sealed class ParkedGaugeListener : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _last = -1;

        public ParkedGaugeListener(IMeterFactory factory)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "emailplatform.outbox.parked" && ReferenceEquals(instrument.Meter.Scope, factory))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Exchange(ref _last, value));
            _listener.Start();
        }

        /// <summary>The gauge's value now, or -1 while it reports nothing (not counted yet).</summary>
        public long Read()
        {
            Interlocked.Exchange(ref _last, -1);
            _listener.RecordObservableInstruments();
            return Interlocked.Read(ref _last);
        }

        public void Dispose() => _listener.Dispose();
    }

    private sealed class Release(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }

    private static async Task<Guid> AcceptAsync(IngressApp app, System.Text.Json.Nodes.JsonObject body)
    {
        using var response = await app.PostEmailAsync(body.ToJsonString());
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetGuid();
    }

    /// <summary>A sent command's <c>scheduledAt</c>, or null when it has none (the bus may leave out a null).</summary>
    private static DateTimeOffset? ScheduledAtOf(JsonElement command) =>
        command.TryGetProperty("scheduledAt", out var at) && at.ValueKind != JsonValueKind.Null ? at.GetDateTimeOffset() : null;

    private static async Task<long> Unpublished(TemporaryDatabase database)
    {
        await using var connection = new Npgsql.NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var count = new Npgsql.NpgsqlCommand("SELECT count(*) FROM outbox_messages WHERE published_at IS NULL", connection);
        return (long)(await count.ExecuteScalarAsync())!;
    }
}
