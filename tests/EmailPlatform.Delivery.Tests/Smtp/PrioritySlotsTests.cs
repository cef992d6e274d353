using EmailPlatform.Contracts;
using EmailPlatform.Delivery.Smtp;

namespace EmailPlatform.Delivery.Tests.Smtp;

/// <summary>A freed pooled connection goes to the waiting email of the highest priority.</summary>
public sealed class PrioritySlotsTests
{
    [Fact]
    public async Task FreedSlotGoesToHighThenNormalThenBulkWhateverTheOrderTheyAsked()
    {
        var slots = new PrioritySlots(1);
        await slots.WaitAsync(EmailPriority.Bulk, CancellationToken.None);
        var bulk = slots.WaitAsync(EmailPriority.Bulk, CancellationToken.None);
        var normal = slots.WaitAsync(EmailPriority.Normal, CancellationToken.None);
        var high = slots.WaitAsync(EmailPriority.High, CancellationToken.None);

        slots.Release();
        await high.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(normal.IsCompleted || bulk.IsCompleted);

        slots.Release();
        await normal.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(bulk.IsCompleted);

        slots.Release();
        await bulk.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, slots.InUse);
        slots.Release();
        Assert.Equal(0, slots.InUse);
    }

    [Fact]
    public async Task CancelledWaiterGivesUpItsPlaceAndTakesNoSlot()
    {
        var slots = new PrioritySlots(1);
        await slots.WaitAsync(EmailPriority.Normal, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var cancelled = slots.WaitAsync(EmailPriority.High, cancel.Token);
        var next = slots.WaitAsync(EmailPriority.Bulk, CancellationToken.None);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        slots.Release();

        await next.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, slots.InUse);
    }
}
