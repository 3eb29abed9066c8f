package protocol

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/cleanroomsd/cleanroomsd/internal/wire"
)

// router matches a method and an escaped path against the operations' URI
// templates. Templates are split into segments; literal segments win over
// labels, so /collaborations/{id}/batch-schema never matches a label route
// that would also fit.
type router struct {
	root *routeNode
}

type routeNode struct {
	literal map[string]*routeNode
	label   *routeNode // {name}
	greedy  *route     // {name+}: the rest of the path
	// ops by method for templates ending here
	ops map[string]*route
}

type route struct {
	op     *wire.Operation
	labels []string // label names in path order
	greedy bool     // the last label takes the rest of the path
}

func newRouteNode() *routeNode {
	return &routeNode{literal: map[string]*routeNode{}, ops: map[string]*route{}}
}

func newRouter(ops []wire.Operation) (*router, error) {
	rt := &router{root: newRouteNode()}
	for i := range ops {
		op := &ops[i]
		if strings.Contains(op.RequestURI, "?") {
			return nil, fmt.Errorf("%s: request URI %q has a query part, which is not supported", op.Name, op.RequestURI)
		}
		n := rt.root
		r := &route{op: op}
		segs := splitPath(op.RequestURI)
		for i, seg := range segs {
			switch {
			case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "+}"):
				if i != len(segs)-1 {
					return nil, fmt.Errorf("%s: greedy label must be last in %q", op.Name, op.RequestURI)
				}
				r.labels = append(r.labels, seg[1:len(seg)-2])
				r.greedy = true
			case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
				r.labels = append(r.labels, seg[1:len(seg)-1])
				if n.label == nil {
					n.label = newRouteNode()
				}
				n = n.label
			default:
				child, ok := n.literal[seg]
				if !ok {
					child = newRouteNode()
					n.literal[seg] = child
				}
				n = child
			}
		}
		if r.greedy {
			if n.greedy != nil {
				return nil, fmt.Errorf("%s and %s share the route %s", n.greedy.op.Name, op.Name, op.RequestURI)
			}
			n.greedy = r
			continue
		}
		if prev, ok := n.ops[op.Method]; ok {
			return nil, fmt.Errorf("%s and %s share the route %s %s", prev.op.Name, op.Name, op.Method, op.RequestURI)
		}
		n.ops[op.Method] = r
	}
	return rt, nil
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// match finds the route for method and the escaped path; it returns the
// decoded label values in template order.
func (rt *router) match(method, escapedPath string) (*route, []string, bool) {
	// Empty segments ("//", a trailing "/") name no operation; clients
	// never send them, and tolerating them would give one resource many
	// paths.
	if escapedPath != "/" && (strings.Contains(escapedPath, "//") || strings.HasSuffix(escapedPath, "/")) {
		return nil, nil, false
	}
	segs := splitPath(escapedPath)
	var values []string
	r, ok := rt.walk(rt.root, method, segs, &values)
	if !ok {
		return nil, nil, false
	}
	return r, values, true
}

func (rt *router) walk(n *routeNode, method string, segs []string, values *[]string) (*route, bool) {
	if len(segs) == 0 {
		r, ok := n.ops[method]
		return r, ok
	}
	seg := segs[0]
	if child, ok := n.literal[seg]; ok {
		if r, ok := rt.walk(child, method, segs[1:], values); ok {
			return r, true
		}
	}
	if n.label != nil && seg != "" {
		v, err := url.PathUnescape(seg)
		if err == nil {
			*values = append(*values, v)
			if r, ok := rt.walk(n.label, method, segs[1:], values); ok {
				return r, true
			}
			*values = (*values)[:len(*values)-1]
		}
	}
	if n.greedy != nil && n.greedy.op.Method == method {
		v, err := url.PathUnescape(strings.Join(segs, "/"))
		if err == nil {
			*values = append(*values, v)
			return n.greedy, true
		}
	}
	return nil, false
}
