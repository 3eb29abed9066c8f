package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms"
	"github.com/aws/aws-sdk-go-v2/service/cleanrooms/types"
	"github.com/aws/smithy-go"

	"github.com/cleanroomsd/cleanroomsd/internal/store/pgstore/pgtest"
)

func TestTwoReplicasBehaveAsOneService(t *testing.T) {
	dbURL, _, _ := pgtest.Database(t)
	r1 := startServer(t, t.TempDir(), "--database-url", dbURL)
	r2 := startServer(t, t.TempDir(), "--database-url", dbURL)
	ctx := context.Background()

	coll, err := r1.client("111111111111").CreateCollaboration(ctx, &cleanrooms.CreateCollaborationInput{
		Name: aws.String("replicated"), Description: aws.String("d"), CreatorDisplayName: aws.String("A"),
		CreatorMemberAbilities: []types.MemberAbility{types.MemberAbilityCanQuery, types.MemberAbilityCanReceiveResults},
		Members: []types.MemberSpecification{
			{AccountId: aws.String("222222222222"), DisplayName: aws.String("B"), MemberAbilities: []types.MemberAbility{}},
			{AccountId: aws.String("333333333333"), DisplayName: aws.String("C"), MemberAbilities: []types.MemberAbility{}},
		},
		QueryLogStatus: types.CollaborationQueryLogStatusDisabled,
	})
	if err != nil {
		t.Fatal(err)
	}
	id := coll.Collaboration.Id
	// Join through the other replica.
	msA, err := r2.client("111111111111").CreateMembership(ctx, &cleanrooms.CreateMembershipInput{CollaborationIdentifier: id, QueryLogStatus: types.MembershipQueryLogStatusDisabled})
	if err != nil {
		t.Fatal(err)
	}

	// 32 racing joins of one account, split over both replicas: exactly one wins.
	var wg sync.WaitGroup
	results := make([]error, 32)
	for i := range results {
		rep := r1
		if i%2 == 1 {
			rep = r2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = rep.client("222222222222").CreateMembership(ctx, &cleanrooms.CreateMembershipInput{
				CollaborationIdentifier: id, QueryLogStatus: types.MembershipQueryLogStatusDisabled})
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range results {
		if err == nil {
			wins++
			continue
		}
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ConflictException" {
			t.Errorf("loser: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d joins won, want exactly 1", wins)
	}

	// Both replicas read the same state.
	for i, rep := range []*process{r1, r2} {
		got, err := rep.client("111111111111").GetCollaboration(ctx, &cleanrooms.GetCollaborationInput{CollaborationIdentifier: id})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(got.Collaboration.MembershipId) != aws.ToString(msA.Membership.Id) {
			t.Errorf("replica %d: creator's membership %v", i+1, got.Collaboration.MembershipId)
		}
		members, err := rep.client("333333333333").ListMembers(ctx, &cleanrooms.ListMembersInput{CollaborationIdentifier: id})
		if err != nil {
			t.Fatal(err)
		}
		status := map[string]types.MemberStatus{}
		for _, m := range members.MemberSummaries {
			status[aws.ToString(m.AccountId)] = m.Status
		}
		want := map[string]types.MemberStatus{"111111111111": types.MemberStatusActive, "222222222222": types.MemberStatusActive, "333333333333": types.MemberStatusInvited}
		if fmt.Sprint(status) != fmt.Sprint(want) {
			t.Errorf("replica %d: members %v, want %v", i+1, status, want)
		}
		ms, err := rep.client("222222222222").ListMemberships(ctx, &cleanrooms.ListMembershipsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms.MembershipSummaries) != 1 {
			t.Errorf("replica %d: B has %d memberships", i+1, len(ms.MembershipSummaries))
		}
	}
}

// TestKill9OfAReplicaLosesNoAcknowledgedWrite kills one replica mid-stream
// and reads every acknowledged write back through the other.
func TestKill9OfAReplicaLosesNoAcknowledgedWrite(t *testing.T) {
	dbURL, _, _ := pgtest.Database(t)
	victim := startServer(t, t.TempDir(), "--database-url", dbURL, "--quota", "collaborations-per-account=100000")
	survivor := startServer(t, t.TempDir(), "--database-url", dbURL)
	ctx := context.Background()
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := victim.client("111111111111")
			for {
				out, err := cl.CreateCollaboration(ctx, &cleanrooms.CreateCollaborationInput{
					Name: aws.String("durable"), Description: aws.String("d"), CreatorDisplayName: aws.String("A"),
					CreatorMemberAbilities: []types.MemberAbility{}, Members: []types.MemberSpecification{},
					QueryLogStatus: types.CollaborationQueryLogStatusDisabled})
				if err != nil {
					return
				}
				mu.Lock()
				acked = append(acked, aws.ToString(out.Collaboration.Id))
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 100 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	victim.cmd.Process.Signal(syscall.SIGKILL)
	<-victim.done
	victim.done <- nil
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged before the kill")
	}
	cl := survivor.client("111111111111")
	for _, id := range acked {
		if _, err := cl.GetCollaboration(ctx, &cleanrooms.GetCollaborationInput{CollaborationIdentifier: aws.String(id)}); err != nil {
			t.Fatalf("acknowledged collaboration %s lost: %v", id, err)
		}
	}
	t.Logf("%d acknowledged writes survived the replica's kill -9", len(acked))
}

// TestDatabaseOutageGives5xxAndRecovers takes the replica's database away
// (connections refused and existing ones terminated, which is what a
// PostgreSQL restart looks like to the server) and brings it back.
func TestDatabaseOutageGives5xxAndRecovers(t *testing.T) {
	dbURL, name, admin := pgtest.Database(t)
	rep := startServer(t, t.TempDir(), "--database-url", dbURL)
	ctx := context.Background()
	cl := rep.client("111111111111")
	if _, err := cl.ListCollaborations(ctx, &cleanrooms.ListCollaborationsInput{}); err != nil {
		t.Fatal(err)
	}
	exec := func(sql string) { pgtest.Exec(t, admin, sql) }
	exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false")
	exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + name + "'")
	start := time.Now()
	_, err := cl.ListCollaborations(ctx, &cleanrooms.ListCollaborationsInput{})
	var ae smithy.APIError
	var re *awshttp.ResponseError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InternalServerException" || !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
		t.Fatalf("during the outage: %v, want InternalServerException (500)", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the failing call took %v; it must fail fast, not hang", d)
	}
	exec("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true")
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := cl.ListCollaborations(ctx, &cleanrooms.ListCollaborationsInput{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not recover after the database came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
