using System.Data.Common;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Status.Webhooks;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Options;

namespace EmailPlatform.Status.Tests.Webhooks;

/// <summary>The replica's list of subscriptions, which the recorder reads for every batch, on the real PostgreSQL.</summary>
public sealed class WebhookSubscriptionCacheTests
{
    /// <summary>
    /// The list is read while a subscription is created through this replica: the read began before the creation
    /// committed and invalidated the cache, and it ended after. Before, that list was then kept, without the new
    /// subscription, for the cache's whole duration, and the events recorded meanwhile got no delivery for it.
    /// </summary>
    [Fact]
    public async Task AListReadWhileASubscriptionWasCreatedIsNotUsedOnceTheCreationInvalidatedTheCache()
    {
        await using var store = await StatusStore.PostgresAsync();
        var cache = new WebhookSubscriptionCache(
            Options.Create(new WebhookOptions { SubscriptionCacheDuration = TimeSpan.FromMinutes(5) }), TimeProvider.System);
        var hold = new HoldAfterRead();
        await using (var reading = store.NewContext(hold))
        {
            var before = cache.GetAsync(reading, CancellationToken.None);
            await hold.Read.WaitAsync(TimeSpan.FromSeconds(30));
            await using (var db = store.NewContext())
            {
                db.WebhookSubscriptions.Add(new WebhookSubscriptionRecord
                {
                    Id = Guid.NewGuid(), Url = "https://hooks.example.com/email", Events = ["email.delivered"], Secret = "whsec_dGVzdA==",
                    CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow,
                });
                await db.SaveChangesAsync();
            }

            cache.Invalidate();
            hold.Release();
            Assert.Empty(await before);
        }

        await using var next = store.NewContext();
        Assert.Single(await cache.GetAsync(next, CancellationToken.None));
    }

    /// <summary>Holds the first query once it has run (its rows are the ones of that moment) until released.</summary>
    private sealed class HoldAfterRead : DbCommandInterceptor
    {
        private readonly TaskCompletionSource _read = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Read => _read.Task;

        public void Release() => _release.TrySetResult();

        public override async ValueTask<DbDataReader> ReaderExecutedAsync(
            DbCommand command, CommandExecutedEventData eventData, DbDataReader result, CancellationToken cancellationToken = default)
        {
            if (_read.TrySetResult())
            {
                await _release.Task;
            }

            return result;
        }
    }
}
