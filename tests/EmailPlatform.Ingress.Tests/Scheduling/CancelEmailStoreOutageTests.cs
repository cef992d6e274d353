using System.Net;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.ServiceDefaults.Messaging;
using EmailPlatform.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EmailPlatform.Ingress.Tests.Scheduling;

/// <summary>
/// A bulk cancel's <see cref="CancelEmail"/> arrives while the ingress's store is away for longer than the consumer waits
/// for it (<see cref="StoreOutageRetry"/>, shortened here from 23 minutes to a few seconds): the command goes back into
/// its queue, not to the error queue, and cancels the scheduled email once the store is back.
/// </summary>
public sealed class CancelEmailStoreOutageTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task ACancelWhoseStoreStaysAwayLongerThanTheOutageRetryCancelsTheEmailOnceItIsBackAndNotFromTheErrorQueue()
    {
        await using var database = await TemporaryDatabase.CreateAsync();
        var target = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        await using var store = new StoreOutageProxy(target.Host!, target.Port);
        await using var app = await IngressApp.StartAsync(
            settings: new Dictionary<string, string?> { ["ConnectionStrings:Postgres"] = store.Route(database.ConnectionString) },
            database: database,
            services: s => s.AddSingleton(new StoreOutageSchedule(3, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), TimeSpan.Zero)));
        using var client = app.CreateClient();
        using var accepted = await app.PostEmailAsync(SendBodies.Json(b => b["scheduled_at"] = DateTimeOffset.UtcNow.AddHours(1).ToString("O")).ToJsonString());
        var text = await accepted.Content.ReadAsStringAsync();
        Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, $"{(int)accepted.StatusCode}: {text}");
        var emailId = JsonDocument.Parse(text).RootElement.GetProperty("id").GetGuid();
        var health = await app.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, Wait);
        Assert.Equal(BusHealthStatus.Healthy, health);

        store.Cut();
        await app.Services.GetRequiredService<IBus>().Publish(new CancelEmail(NewId.NextGuid(), emailId, DateTimeOffset.UtcNow));
        await Eventually.GetAsync(
            async () => await PutBackProbe.PutBackAsync(client, "cancel-email") || await PutBackProbe.MessagesInAsync(app.RabbitMq!, "cancel-email_error") > 0,
            done => done, Wait, "the cancel to outlast the wait for the store");
        store.Restore();

        Assert.Equal(0u, await PutBackProbe.MessagesInAsync(app.RabbitMq!, "cancel-email_error"));
        var rows = await Eventually.GetAsync(
            app.OutboxRowsAsync, r => r.Any(row => row.EmailId == emailId && row.MessageType == nameof(EmailCanceled)), Wait, "the email to be canceled");
        Assert.DoesNotContain(rows, r => r.EmailId == emailId && r.MessageType is nameof(SendEmail) or nameof(EmailQueued));
        Assert.Equal(0u, await PutBackProbe.MessagesInAsync(app.RabbitMq!, "cancel-email_error"));
    }
}
