// The renderer's entry: connect (Electron preload or WebSocket with the page's token) and mount the bench.
import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { connect } from './lib/api.js';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app');
mount(App, { target, props: { connection: connect() } });
